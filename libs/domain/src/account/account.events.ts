import type { DomainEvent } from '../event.js';

export const GRANT_SOURCES = ['purchase', 'promo', 'adjustment', 'migration'] as const;
export type GrantSource = (typeof GRANT_SOURCES)[number];

/** Why credits left or came back; finance groups ledger entries by these. */
export const DEBIT_REASON_PROJECT_STARTED = 'project_started';
export const REFUND_REASON_PARTIAL_USE = 'partial_use';
export const REFUND_REASON_PROJECT_FAILED = 'project_failed';

export const LOT_CATEGORIES = ['paid', 'promotional'] as const;
export type LotCategory = (typeof LOT_CATEGORIES)[number];

/** How much of one lot (named by its grant) a debit drew or a refund returned. */
export type LotShare = Readonly<{ grantId: string; amount: number }>;

/**
 * Credits were added to the account: bought, given away, corrected by an operator, or
 * carried over. Each grant is a lot. Events written before lots have no `grantId`,
 * `category`, `priority` or `expiresAt`: they fold as a paid lot that never expires,
 * named after the event's id (DESIGN.md); every new grant carries all four but `expiresAt`.
 */
export type CreditsGranted = DomainEvent<
  'CreditsGranted',
  {
    amount: number;
    source: GrantSource;
    reference?: string;
    grantId?: string;
    category?: LotCategory;
    priority?: number;
    /** ISO 8601; absent: the lot never expires. */
    expiresAt?: string;
  }
>;

/**
 * Credits left the account: to pay for a project (`projectId`) or for a charge outside
 * any project. `lots` says which lots it drew from (absent on events written before lots).
 */
export type Debited = DomainEvent<
  'Debited',
  { amount: number; projectId?: string; reason?: string; lots?: readonly LotShare[] }
>;

/**
 * Credits came back to the account because a project used less than it cost, or failed.
 * `lots` says which lots they went back to (absent on events written before lots).
 * `legacy: true` marks the refund of a debit written before lots (a project whose start
 * names no lots): it gives back credits those debits hold (each lot's `legacyLent`), not
 * ones a debit naming its lots drew, and the fold must know which to keep them apart.
 */
export type Refunded = DomainEvent<
  'Refunded',
  { amount: number; projectId?: string; reason: string; lots?: readonly LotShare[]; legacy?: true }
>;

/** What remained of a lot at its `expiresAt` left the account (or a refund to an expired lot did). */
export type CreditsExpired = DomainEvent<'CreditsExpired', { grantId: string; amount: number }>;

/** An operator removed what remained of a lot (or a refund to a voided lot came back voided). */
export type GrantVoided = DomainEvent<'GrantVoided', { grantId: string; amount: number; reason: string }>;

export type AccountEvent = CreditsGranted | Debited | Refunded | CreditsExpired | GrantVoided;
