import assert from 'node:assert';
import type { AccountEvent } from '../account/account.events.js';
import { RuleViolation } from '../rule-violation.js';
import type { ProjectAssets, ProjectEvent } from './project.events.js';
import { evolveProject, type ExistingProject, type ProjectState, type ProjectStatus } from './project.state.js';

/**
 * A project decision: the events for both streams (appended atomically by the handler,
 * the account stream only when it has events) and what the HTTP response needs, so the
 * handler has no business `if` of its own.
 */
export type ProjectDecision<Reply> = Readonly<{
  /** The account whose stream gets the `account` events: the project's payer. */
  accountId: string;
  account: readonly AccountEvent[];
  project: readonly ProjectEvent[];
  reply: Reply;
}>;

export type StartReply = Readonly<{ projectId: string; status: ProjectStatus; balance: number }>;
export type ClaimReply = Readonly<{ projectId: string; status: 'processing'; attempt: number; leaseExpiresAt: string }>;
export type HeartbeatReply = Readonly<{ projectId: string; attempt: number; leaseExpiresAt: string }>;
/** `refunded` is the project's total refund: cost − creditsUsed when completed, the cost when failed. */
export type FinishReply<Status extends ProjectStatus> = Readonly<{
  projectId: string;
  status: Status;
  refunded: number;
}>;

export type AssetsReply = Readonly<{ projectId: string; status: 'completed'; assets: ProjectAssets }>;
/** What a provider's report left: the project's status, its refund, and its assets when completed. */
export type ProviderReportReply = Readonly<{
  projectId: string;
  status: ProjectStatus;
  refunded: number;
  assets: ProjectAssets | null;
}>;

export function requireProject(state: ProjectState, projectId: string): ExistingProject {
  if (state.status === 'none') {
    throw new RuleViolation('not_found', `project ${projectId} does not exist`, { projectId });
  }
  return state;
}

/** The fencing check: only the current attempt may speak for the project (API.md checks it first). */
export function requireCurrentAttempt(state: ExistingProject, projectId: string, attempt: number): void {
  if (attempt !== state.attempt) {
    throw new RuleViolation('stale_attempt', `attempt ${attempt} of project ${projectId} is not the current one`, {
      attempt,
      currentAttempt: state.attempt,
    });
  }
}

export function invalidTransition(state: ExistingProject, projectId: string, action: string): RuleViolation {
  return new RuleViolation('invalid_transition', `cannot ${action} project ${projectId}: it is ${state.status}`, {
    status: state.status,
  });
}

/** Folds the project events into the state, so a reply always describes the state after them. */
export function decideWith<Reply>(
  state: ExistingProject,
  account: readonly AccountEvent[],
  project: readonly ProjectEvent[],
  replyOf: (next: ExistingProject) => Reply,
): ProjectDecision<Reply> {
  const next = project.reduce(evolveProject, state as ProjectState);
  assert(next.status !== 'none', 'a decided project cannot stop existing');
  return { accountId: state.accountId, account, project, reply: replyOf(next) };
}

export function instantAfter(now: Date, seconds: number): string {
  return new Date(now.getTime() + seconds * 1000).toISOString();
}

export function isBefore(now: Date, instant: string): boolean {
  return now.getTime() < Date.parse(instant);
}
