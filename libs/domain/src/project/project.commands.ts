import type { ProjectAssets } from './project.events.js';

/**
 * Project commands. Each carries `now`, the instant the handler received it: the domain
 * reads no clock, so leases, deadlines and expiry are all decided from this value.
 */

/** Pay for a new project and queue it. */
export type StartProject = Readonly<{
  type: 'StartProject';
  projectId: string;
  accountId: string;
  cost: number;
  kind?: string;
  externalTaskId?: string;
  /** As the caller asked for it; absent, `deadlineSecondsDefault` applies. */
  deadlineSeconds?: number;
  /**
   * The service's configured default (LEDGER_DEADLINE_SECONDS_DEFAULT), else DEADLINE_SECONDS_DEFAULT.
   * Kept apart from `deadlineSeconds` because a repeated start is recognised by what was requested.
   */
  deadlineSecondsDefault?: number;
  metadata?: Record<string, unknown>;
  now: Date;
}>;

/** A worker asks for the project and a lease of `leaseSeconds`. */
export type ClaimProject = Readonly<{
  type: 'ClaimProject';
  projectId: string;
  workerId: string;
  leaseSeconds: number;
  now: Date;
}>;

/** The worker holding `attempt` is alive: extend its lease to `now + leaseSeconds`. */
export type HeartbeatProject = Readonly<{
  type: 'HeartbeatProject';
  projectId: string;
  attempt: number;
  leaseSeconds: number;
  now: Date;
}>;

/** The worker holding `attempt` delivers the result. `creditsUsed` defaults to the whole cost. */
export type CompleteProject = Readonly<{
  type: 'CompleteProject';
  projectId: string;
  attempt: number;
  creditsUsed?: number;
  assets?: ProjectAssets;
  now: Date;
}>;

/**
 * End the project without a result. With `attempt`, a worker (or a provider webhook)
 * reports the failure; without it, the owner cancels. `code` defaults to 'failed', or
 * 'cancelled' when there is no attempt.
 */
export type FailProject = Readonly<{
  type: 'FailProject';
  projectId: string;
  attempt?: number;
  errorMessage: string;
  code?: string;
  now: Date;
}>;

/**
 * The watchdog looks at a project: past its deadline, or out of attempts with its lease
 * expired, it fails with a refund; otherwise nothing happens.
 */
export type ExpireProject = Readonly<{
  type: 'ExpireProject';
  projectId: string;
  attemptsMax: number;
  now: Date;
}>;

/**
 * Give a completed project the result assets it lacks (or newer ones): the keys given
 * replace those it has, the others stay. A late provider webhook or a repair sends it.
 */
export type AttachAssets = Readonly<{
  type: 'AttachAssets';
  projectId: string;
  assets: ProjectAssets;
  now: Date;
}>;

/**
 * A generation provider reports the project's task (a verified webhook). It is the task's
 * worker of record and speaks for the current attempt, whichever it is (attempt 0 when no
 * worker claimed the project): `succeeded` completes a pending or processing project with
 * the whole cost used, or attaches the assets to a project already completed; `failed`
 * fails it with a refund.
 */
export type ApplyProviderReport = Readonly<{
  type: 'ApplyProviderReport';
  projectId: string;
  outcome: 'succeeded' | 'failed';
  assets?: ProjectAssets;
  /** The provider's own words; a default message when it gave none. */
  errorMessage?: string;
  now: Date;
}>;

export type ProjectCommand =
  | StartProject
  | ClaimProject
  | HeartbeatProject
  | CompleteProject
  | FailProject
  | ExpireProject
  | AttachAssets
  | ApplyProviderReport;
