import type { LotShare } from '../account/account.events.js';
import type { DomainEvent } from '../event.js';

export type ProjectAssets = Readonly<{
  assetUrl?: string;
  previewUrl?: string;
  thumbnailUrl?: string;
  resultUrls?: readonly string[];
}>;

/** Failure codes the domain itself uses; callers may send their own codes too. */
export const FAIL_CODE_DEFAULT = 'failed';
export const FAIL_CODE_CANCELLED = 'cancelled';
export const FAIL_CODE_DEADLINE_EXCEEDED = 'deadline_exceeded';
export const FAIL_CODE_ATTEMPTS_EXHAUSTED = 'attempts_exhausted';
export const FAIL_CODE_PROVIDER_FAILED = 'provider_failed';

export type ProjectStartedData = {
  accountId: string;
  cost: number;
  kind?: string;
  externalTaskId?: string;
  /** ISO 8601 instant after which the watchdog fails the project. */
  deadlineAt: string;
  /** The deadline as the caller asked for it, if it did (to recognise a repeated start). */
  deadlineSeconds?: number;
  metadata?: Record<string, unknown>;
  /**
   * The lots its debit drew, as the Debited in the same append records them. The project
   * keeps them because its refund returns to them, and only the project knows when it is
   * still owed one: a project completed with all its cost used appends nothing to the
   * account, so draws kept in the account's state could never be let go. Absent on
   * projects started before lots: their refund returns by the spending order.
   */
  lots?: readonly LotShare[];
};
export type ProjectClaimedData = { attempt: number; workerId: string; leaseExpiresAt: string };
export type LeaseExtendedData = { attempt: number; leaseExpiresAt: string };
/** `attempt` 0: the provider's report completed a project no worker had claimed (its worker of record). */
export type ProjectCompletedData = { attempt: number; creditsUsed: number; assets?: ProjectAssets };
export type ProjectFailedData = { attempt?: number; code: string; errorMessage: string };
/** The project's whole set of result assets after the attachment, not only the keys that changed. */
export type ProjectAssetsAttachedData = { assets: ProjectAssets };

/** A project was accepted and paid for: its cost was debited from the account in the same step. */
export type ProjectStarted = DomainEvent<'ProjectStarted', ProjectStartedData>;

/** A worker took the project under a new attempt number and a lease; every earlier attempt is now stale. */
export type ProjectClaimed = DomainEvent<'ProjectClaimed', ProjectClaimedData>;

/** The worker holding the current attempt is alive, so its lease runs longer. */
export type LeaseExtended = DomainEvent<'LeaseExtended', LeaseExtendedData>;

/** The current attempt delivered the result using `creditsUsed` of the cost; the rest was refunded in the same step. */
export type ProjectCompleted = DomainEvent<'ProjectCompleted', ProjectCompletedData>;

/** The project ended without a result (worker, owner, provider or watchdog); its cost was refunded in the same step. */
export type ProjectFailed = DomainEvent<'ProjectFailed', ProjectFailedData>;

/** Result assets reached a completed project after its completion (a late provider webhook, a repair): these are its assets now. */
export type ProjectAssetsAttached = DomainEvent<'ProjectAssetsAttached', ProjectAssetsAttachedData>;

export type ProjectEvent =
  ProjectStarted | ProjectClaimed | LeaseExtended | ProjectCompleted | ProjectFailed | ProjectAssetsAttached;
