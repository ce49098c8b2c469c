import assert from 'node:assert';
import { requireDebitable } from '../account/account.decide.js';
import { DEBIT_REASON_PROJECT_STARTED, type AccountEvent } from '../account/account.events.js';
import { drawInOrder, spendableAt } from '../account/account.lots.js';
import { evolveAccount, type AccountState } from '../account/account.state.js';
import { DEADLINE_SECONDS_DEFAULT, DEADLINE_SECONDS_MAX, LEASE_SECONDS_MAX, TEXT_LENGTH_MAX } from '../limits.js';
import { jsonEqual } from '../json-equal.js';
import { RuleViolation } from '../rule-violation.js';
import {
  RULES,
  isAmount,
  isId,
  isInstant,
  isIntegerBetween,
  isMetadata,
  isOptional,
  isText,
  requireValid,
} from '../validation.js';
import type { ClaimProject, HeartbeatProject, StartProject } from './project.commands.js';
import {
  decideWith,
  instantAfter,
  invalidTransition,
  isBefore,
  requireCurrentAttempt,
  requireProject,
  type ClaimReply,
  type HeartbeatReply,
  type ProjectDecision,
  type StartReply,
} from './project.decision.js';
import type { ProjectEvent, ProjectStartedData } from './project.events.js';
import { isTerminal, type ExistingProject, type ProjectState } from './project.state.js';

const LEASE_RULE = `an integer from 1 to ${LEASE_SECONDS_MAX}`;
const TEXT_RULE = `1 to ${TEXT_LENGTH_MAX} characters`;

/**
 * Debit the cost and start the project, in one decision for both streams. A start of an
 * existing project with the same body (payer, cost, kind, task, requested deadline and
 * metadata) is a repeat (the caller retried with a new idempotency key): it changes
 * nothing and answers with the project's current status. Any other body is
 * `already_exists` (API.md). The deadline is compared as requested, in seconds: a retry
 * computes a new `deadlineAt` from its own `now`.
 */
export function decideStartProject(
  account: AccountState,
  project: ProjectState,
  command: StartProject,
): ProjectDecision<StartReply> {
  requireValid([
    ['projectId', isId(command.projectId), RULES.id],
    ['accountId', isId(command.accountId), RULES.id],
    ['cost', isAmount(command.cost), RULES.amount],
    ['kind', isOptional(command.kind, (v) => isText(v, TEXT_LENGTH_MAX)), TEXT_RULE],
    ['externalTaskId', isOptional(command.externalTaskId, (v) => isText(v, TEXT_LENGTH_MAX)), TEXT_RULE],
    [
      'deadlineSeconds',
      isOptional(command.deadlineSeconds, (v) => isIntegerBetween(v, 1, DEADLINE_SECONDS_MAX)),
      `an integer from 1 to ${DEADLINE_SECONDS_MAX}`,
    ],
    [
      'deadlineSecondsDefault',
      isOptional(command.deadlineSecondsDefault, (v) => isIntegerBetween(v, 1, DEADLINE_SECONDS_MAX)),
      `an integer from 1 to ${DEADLINE_SECONDS_MAX}`,
    ],
    ['metadata', isOptional(command.metadata, isMetadata), 'a JSON object of at most 16 KiB, its numbers finite'],
    ['now', isInstant(command.now), RULES.now],
  ]);
  const { projectId, accountId, cost, kind, externalTaskId, metadata } = command;
  if (project.status !== 'none') {
    const same =
      project.accountId === accountId &&
      project.cost === cost &&
      project.kind === kind &&
      project.externalTaskId === externalTaskId &&
      project.deadlineSeconds === command.deadlineSeconds &&
      jsonEqual(project.metadata, metadata);
    if (!same) {
      throw new RuleViolation('already_exists', `project ${projectId} already exists with a different body`, {
        projectId,
      });
    }
    return {
      accountId,
      account: [],
      project: [],
      reply: { projectId, status: project.status, balance: spendableAt(account, command.now.getTime()) },
    };
  }
  requireDebitable(account, accountId, cost, command.now);
  const lots = drawInOrder(account, cost, command.now.getTime());
  const data: ProjectStartedData = {
    accountId,
    cost,
    ...(kind === undefined ? {} : { kind }),
    ...(externalTaskId === undefined ? {} : { externalTaskId }),
    deadlineAt: instantAfter(
      command.now,
      command.deadlineSeconds ?? command.deadlineSecondsDefault ?? DEADLINE_SECONDS_DEFAULT,
    ),
    ...(command.deadlineSeconds === undefined ? {} : { deadlineSeconds: command.deadlineSeconds }),
    ...(metadata === undefined ? {} : { metadata }),
    lots,
  };
  const accountEvents: AccountEvent[] = [
    { type: 'Debited', data: { amount: cost, projectId, reason: DEBIT_REASON_PROJECT_STARTED, lots } },
  ];
  const projectEvents: ProjectEvent[] = [{ type: 'ProjectStarted', data }];
  const balance = spendableAt(accountEvents.reduce(evolveAccount, account), command.now.getTime());
  return {
    accountId,
    account: accountEvents,
    project: projectEvents,
    reply: { projectId, status: 'pending', balance },
  };
}

/**
 * Hand the project to a worker. A live lease belongs to its holder: another worker is told
 * `lease_held`, the holder asking again gets its own claim back. Once the lease has run out,
 * anyone (the holder too) gets a new attempt, which makes the old one stale.
 */
export function decideClaimProject(state: ProjectState, command: ClaimProject): ProjectDecision<ClaimReply> {
  requireValid([
    ['projectId', isId(command.projectId), RULES.id],
    ['workerId', isId(command.workerId), RULES.id],
    ['leaseSeconds', isIntegerBetween(command.leaseSeconds, 1, LEASE_SECONDS_MAX), LEASE_RULE],
    ['now', isInstant(command.now), RULES.now],
  ]);
  const { projectId, workerId, now } = command;
  const project = requireProject(state, projectId);
  if (isTerminal(project)) throw invalidTransition(project, projectId, 'claim');
  if (project.status === 'processing' && isBefore(now, project.leaseExpiresAt)) {
    if (project.workerId !== workerId) {
      throw new RuleViolation('lease_held', `project ${projectId} is leased to another worker`, {
        leaseExpiresAt: project.leaseExpiresAt,
      });
    }
    return decideWith(project, [], [], (next) => claimReply(projectId, next));
  }
  const leaseExpiresAt = instantAfter(now, command.leaseSeconds);
  const claimed: ProjectEvent = {
    type: 'ProjectClaimed',
    data: { attempt: project.attempt + 1, workerId, leaseExpiresAt },
  };
  return decideWith(project, [], [claimed], (next) => claimReply(projectId, next));
}

/**
 * The current attempt's heartbeat. The lease only ever grows: a delayed or repeated
 * heartbeat that would end it sooner changes nothing. A lease that ran out with nobody
 * claiming since is still the holder's to extend: the attempt is still the current one.
 */
export function decideHeartbeatProject(
  state: ProjectState,
  command: HeartbeatProject,
): ProjectDecision<HeartbeatReply> {
  requireValid([
    ['projectId', isId(command.projectId), RULES.id],
    ['attempt', isIntegerBetween(command.attempt, 1, Number.MAX_SAFE_INTEGER), 'a positive integer'],
    ['leaseSeconds', isIntegerBetween(command.leaseSeconds, 1, LEASE_SECONDS_MAX), LEASE_RULE],
    ['now', isInstant(command.now), RULES.now],
  ]);
  const { projectId, attempt } = command;
  const project = requireProject(state, projectId);
  requireCurrentAttempt(project, projectId, attempt);
  // A pending project has attempt 0, which no valid command carries: only processing is left.
  if (project.status !== 'processing') throw invalidTransition(project, projectId, 'extend the lease of');
  const leaseExpiresAt = instantAfter(command.now, command.leaseSeconds);
  const events: ProjectEvent[] =
    Date.parse(leaseExpiresAt) > Date.parse(project.leaseExpiresAt)
      ? [{ type: 'LeaseExtended', data: { attempt, leaseExpiresAt } }]
      : [];
  return decideWith(project, [], events, (next) => ({
    projectId,
    attempt: next.attempt,
    leaseExpiresAt: leaseOf(next),
  }));
}

function claimReply(projectId: string, next: ExistingProject): ClaimReply {
  return { projectId, status: 'processing', attempt: next.attempt, leaseExpiresAt: leaseOf(next) };
}

function leaseOf(project: ExistingProject): string {
  // Claims and heartbeats only ever leave a processing project, which always has a lease.
  assert(project.leaseExpiresAt !== null, `a ${project.status} project has no lease`);
  return project.leaseExpiresAt;
}
