import type { DomainEvent } from '../event.js';

export const GRANT_SOURCES = ['purchase', 'promo', 'adjustment', 'migration'] as const;
export type GrantSource = (typeof GRANT_SOURCES)[number];

/** Why credits left or came back; finance groups ledger entries by these. */
export const DEBIT_REASON_PROJECT_STARTED = 'project_started';
export const REFUND_REASON_PARTIAL_USE = 'partial_use';
export const REFUND_REASON_PROJECT_FAILED = 'project_failed';

/** Credits were added to the account: bought, given away, corrected by an operator, or carried over. */
export type CreditsGranted = DomainEvent<'CreditsGranted', { amount: number; source: GrantSource; reference?: string }>;

/** Credits left the account: to pay for a project (`projectId`) or for a charge outside any project. */
export type Debited = DomainEvent<'Debited', { amount: number; projectId?: string; reason?: string }>;

/** Credits came back to the account because a project used less than it cost, or failed. */
export type Refunded = DomainEvent<'Refunded', { amount: number; projectId?: string; reason: string }>;

export type AccountEvent = CreditsGranted | Debited | Refunded;
