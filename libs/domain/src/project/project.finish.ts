import assert from 'node:assert';
import { REFUND_REASON_PARTIAL_USE, REFUND_REASON_PROJECT_FAILED } from '../account/account.events.js';
import { refundEvents } from '../account/account.refunds.js';
import type { AccountState } from '../account/account.state.js';
import { jsonEqual } from '../json-equal.js';
import { AMOUNT_MAX, ERROR_MESSAGE_LENGTH_MAX } from '../limits.js';
import {
  RULES,
  isAssets,
  isCode,
  isId,
  isInstant,
  isIntegerBetween,
  isOptional,
  isText,
  requireValid,
} from '../validation.js';
import type { CompleteProject, ExpireProject, FailProject } from './project.commands.js';
import {
  decideWith,
  invalidTransition,
  isBefore,
  requireCurrentAttempt,
  requireProject,
  type FinishReply,
  type ProjectDecision,
} from './project.decision.js';
import {
  FAIL_CODE_ATTEMPTS_EXHAUSTED,
  FAIL_CODE_CANCELLED,
  FAIL_CODE_DEADLINE_EXCEEDED,
  FAIL_CODE_DEFAULT,
  type ProjectAssets,
  type ProjectCompletedData,
  type ProjectEvent,
  type ProjectFailedData,
} from './project.events.js';
import { isTerminal, type ExistingProject, type ProjectState, type ProjectStatus } from './project.state.js';

const ATTEMPT_RULE = 'a positive integer';

/**
 * The current attempt delivers the result; whatever it did not use goes back to the payer
 * in the same step. Repeating exactly the command that completed the project changes
 * nothing; any other finish of a finished project is `invalid_transition`.
 */
export function decideCompleteProject(
  account: AccountState,
  state: ProjectState,
  command: CompleteProject,
): ProjectDecision<FinishReply<'completed'>> {
  requireValid([
    ['projectId', isId(command.projectId), RULES.id],
    ['attempt', isIntegerBetween(command.attempt, 1, Number.MAX_SAFE_INTEGER), ATTEMPT_RULE],
    [
      'creditsUsed',
      isOptional(command.creditsUsed, (v) => isIntegerBetween(v, 0, AMOUNT_MAX)),
      `an integer from 0 to ${AMOUNT_MAX}`,
    ],
    ['assets', isOptional(command.assets, isAssets), 'known asset keys with http(s) URLs'],
    ['now', isInstant(command.now), RULES.now],
  ]);
  const { projectId, attempt } = command;
  const project = requireProject(state, projectId);
  requireCurrentAttempt(project, projectId, attempt);
  const creditsUsed = command.creditsUsed ?? project.cost;
  requireValid([['creditsUsed', creditsUsed <= project.cost, `at most the project's cost, ${project.cost}`]]);
  const assets = normalizedAssets(command.assets);
  const data: ProjectCompletedData = { attempt, creditsUsed, ...(assets === undefined ? {} : { assets }) };
  const reply = (next: ExistingProject) => finishReply(projectId, 'completed', next);
  if (project.status === 'completed' && jsonEqual(project.terminal, data)) return decideWith(project, [], [], reply);
  // A pending project has attempt 0, which no valid command carries: only processing is left.
  if (project.status !== 'processing') throw invalidTransition(project, projectId, 'complete');
  return completeWithRefund(account, project, projectId, command.now, data, reply);
}

/**
 * Completes an unfinished project as `data` says and gives back what it did not use, in
 * one decision: a worker's completion, or a provider's (project.assets.ts), which may end
 * a pending project too, as attempt 0 (nobody claimed it).
 */
export function completeWithRefund<Reply>(
  account: AccountState,
  project: ExistingProject,
  projectId: string,
  now: Date,
  data: ProjectCompletedData,
  reply: (next: ExistingProject) => Reply,
): ProjectDecision<Reply> {
  assert(project.status === 'pending' || project.status === 'processing', `completing a ${project.status} project`);
  const refund = {
    projectId,
    amount: project.cost - data.creditsUsed,
    reason: REFUND_REASON_PARTIAL_USE,
    alreadyRefunded: project.refunded,
    now,
  };
  return decideWith(project, refundEvents(account, refund, project.lots), [{ type: 'ProjectCompleted', data }], reply);
}

/**
 * End the project without a result and give back everything not yet refunded. With an
 * attempt it is a worker's (or provider's) report and the attempt is fenced first; without
 * one it is the owner cancelling. Only the exact repeat of the failing command is accepted
 * after the end, so a project is refunded once, whoever retries.
 */
export function decideFailProject(
  account: AccountState,
  state: ProjectState,
  command: FailProject,
): ProjectDecision<FinishReply<'failed'>> {
  requireValid([
    ['projectId', isId(command.projectId), RULES.id],
    ['attempt', isOptional(command.attempt, (v) => isIntegerBetween(v, 1, Number.MAX_SAFE_INTEGER)), ATTEMPT_RULE],
    [
      'errorMessage',
      isText(command.errorMessage, ERROR_MESSAGE_LENGTH_MAX),
      `1 to ${ERROR_MESSAGE_LENGTH_MAX} characters`,
    ],
    ['code', isOptional(command.code, isCode), RULES.code],
    ['now', isInstant(command.now), RULES.now],
  ]);
  const { projectId, attempt, errorMessage } = command;
  const project = requireProject(state, projectId);
  if (attempt !== undefined) requireCurrentAttempt(project, projectId, attempt);
  const code = command.code ?? (attempt === undefined ? FAIL_CODE_CANCELLED : FAIL_CODE_DEFAULT);
  const data: ProjectFailedData = { ...(attempt === undefined ? {} : { attempt }), code, errorMessage };
  const reply = (next: ExistingProject) => finishReply(projectId, 'failed', next);
  if (project.status === 'failed' && jsonEqual(project.terminal, data)) return decideWith(project, [], [], reply);
  if (isTerminal(project)) throw invalidTransition(project, projectId, 'fail');
  return failWithRefund(account, project, projectId, command.now, data, reply);
}

/**
 * The watchdog's look at one project, so that none stays in flight forever holding credits:
 * past its deadline, or with its lease run out and no attempts left, it fails with a refund.
 * Anything else, a finished project included, is left alone: no events, and not a refusal,
 * because the watchdog's goal (the project is not stuck) already holds.
 */
export function decideExpireProject(
  account: AccountState,
  state: ProjectState,
  command: ExpireProject,
): ProjectDecision<FinishReply<ProjectStatus>> {
  requireValid([
    ['projectId', isId(command.projectId), RULES.id],
    ['attemptsMax', isIntegerBetween(command.attemptsMax, 1, Number.MAX_SAFE_INTEGER), ATTEMPT_RULE],
    ['now', isInstant(command.now), RULES.now],
  ]);
  const { projectId, now } = command;
  const project = requireProject(state, projectId);
  const reply = (next: ExistingProject) => finishReply(projectId, next.status, next);
  if (isTerminal(project)) return decideWith(project, [], [], reply);
  if (!isBefore(now, project.deadlineAt)) {
    const errorMessage = `the project passed its deadline ${project.deadlineAt}`;
    return failWithRefund(account, project, projectId, now, { code: FAIL_CODE_DEADLINE_EXCEEDED, errorMessage }, reply);
  }
  const stalled = project.status === 'processing' && !isBefore(now, project.leaseExpiresAt);
  if (stalled && project.attempt >= command.attemptsMax) {
    const errorMessage = `attempt ${project.attempt} of ${command.attemptsMax} let its lease expire`;
    return failWithRefund(
      account,
      project,
      projectId,
      now,
      { code: FAIL_CODE_ATTEMPTS_EXHAUSTED, errorMessage },
      reply,
    );
  }
  return decideWith(project, [], [], reply);
}

function failWithRefund<Reply>(
  account: AccountState,
  project: ExistingProject,
  projectId: string,
  now: Date,
  data: ProjectFailedData,
  reply: (next: ExistingProject) => Reply,
): ProjectDecision<Reply> {
  const refund = {
    projectId,
    amount: project.cost - project.refunded,
    reason: REFUND_REASON_PROJECT_FAILED,
    alreadyRefunded: project.refunded,
    now,
  };
  const events: ProjectEvent[] = [{ type: 'ProjectFailed', data }];
  return decideWith(project, refundEvents(account, refund, project.lots), events, reply);
}

function finishReply<Status extends ProjectStatus>(projectId: string, status: Status, next: ExistingProject) {
  return { projectId, status, refunded: next.refunded };
}

/** Drops absent keys, so `{}` and `{previewUrl: undefined}` are stored as no assets at all. */
export function normalizedAssets(assets: ProjectAssets | undefined): ProjectAssets | undefined {
  if (assets === undefined) return undefined;
  const present = Object.fromEntries(Object.entries(assets).filter(([, value]) => value !== undefined));
  return Object.keys(present).length === 0 ? undefined : (present as ProjectAssets);
}
