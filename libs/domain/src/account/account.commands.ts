import type { GrantSource, LotCategory } from './account.events.js';

/**
 * Add credits to an account (creating it on its first grant) as a new lot. `grantId` is
 * always given: the caller's, or one the service derives from the request's idempotency
 * key, so a retry names the same lot. `now` is when the service received the command.
 */
export type GrantCredits = Readonly<{
  type: 'GrantCredits';
  accountId: string;
  amount: number;
  source: GrantSource;
  reference?: string;
  grantId: string;
  /** Absent: `promotional` for source `promo`, else `paid`. */
  category?: LotCategory;
  /** 0–100, lower spent first; absent: 50. */
  priority?: number;
  /** ISO 8601, after `now` and at most 10 years ahead; absent: never expires. */
  expiresAt?: string;
  now: Date;
}>;

/** Charge an account outside any project, from its lots in the spending order. */
export type DebitCredits = Readonly<{
  type: 'DebitCredits';
  accountId: string;
  amount: number;
  reason: string;
  now: Date;
}>;

/** An operator removes what remains of a lot. */
export type VoidGrant = Readonly<{
  type: 'VoidGrant';
  accountId: string;
  grantId: string;
  reason: string;
  now: Date;
}>;

/** The expiry sweep records that a lot passed its `expiresAt`; anything else changes nothing. */
export type ExpireCredits = Readonly<{
  type: 'ExpireCredits';
  accountId: string;
  grantId: string;
  now: Date;
}>;

export type AccountCommand = GrantCredits | DebitCredits | VoidGrant | ExpireCredits;
