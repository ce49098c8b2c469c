import type { GrantSource } from './account.events.js';

/** Add credits to an account (creating it on its first grant). */
export type GrantCredits = Readonly<{
  type: 'GrantCredits';
  accountId: string;
  amount: number;
  source: GrantSource;
  reference?: string;
}>;

/** Charge an account outside any project. */
export type DebitCredits = Readonly<{
  type: 'DebitCredits';
  accountId: string;
  amount: number;
  reason: string;
}>;

export type AccountCommand = GrantCredits | DebitCredits;
