import type { GrantCredits } from '../account/account.commands.js';
import type { AccountEvent, CreditsGranted, LotShare } from '../account/account.events.js';
import type { LedgerCommand } from '../ledger.js';
import type { ProjectEvent } from '../project/project.events.js';
import { ACCOUNT_ID, PROJECT_ID, at, iso } from './ledger-fixtures.js';

/** Events and commands of the credit-lot specs: lots by name, draws and returns by lot, times in seconds after T0. */

export const lot = (grantId: string, amount: number, extra: Partial<CreditsGranted['data']> = {}): AccountEvent => ({
  type: 'CreditsGranted',
  data: { amount, source: 'purchase', grantId, category: 'paid', priority: 50, ...extra },
});
export const promo = (grantId: string, amount: number, expiresInSeconds?: number): AccountEvent =>
  lot(grantId, amount, {
    source: 'promo',
    category: 'promotional',
    ...(expiresInSeconds === undefined ? {} : { expiresAt: iso(expiresInSeconds) }),
  });
export const grant = (amount: number, extra: Partial<GrantCredits> = {}): LedgerCommand => ({
  type: 'GrantCredits',
  accountId: ACCOUNT_ID,
  amount,
  source: 'purchase',
  grantId: 'new',
  now: at(0),
  ...extra,
});
export const debit = (amount: number, seconds = 0): LedgerCommand => ({
  type: 'DebitCredits',
  accountId: ACCOUNT_ID,
  amount,
  reason: 'fee',
  now: at(seconds),
});
export const debitedFrom = (lots: LotShare[], projectId?: string): AccountEvent => {
  const amount = lots.reduce((sum, share) => sum + share.amount, 0);
  return {
    type: 'Debited',
    data:
      projectId === undefined
        ? { amount, reason: 'fee', lots }
        : { amount, projectId, reason: 'project_started', lots },
  };
};
export const refundedTo = (lots: LotShare[], reason = 'project_failed'): AccountEvent => ({
  type: 'Refunded',
  data: { amount: lots.reduce((sum, share) => sum + share.amount, 0), projectId: PROJECT_ID, reason, lots },
});
export const startedWith = (lots: LotShare[]): ProjectEvent => ({
  type: 'ProjectStarted',
  data: {
    accountId: ACCOUNT_ID,
    cost: lots.reduce((sum, share) => sum + share.amount, 0),
    deadlineAt: iso(3600),
    lots,
  },
});
export const start = (cost: number, seconds = 0): LedgerCommand => ({
  type: 'StartProject',
  projectId: PROJECT_ID,
  accountId: ACCOUNT_ID,
  cost,
  now: at(seconds),
});
export const cancel = (seconds: number): LedgerCommand => ({
  type: 'FailProject',
  projectId: PROJECT_ID,
  errorMessage: 'user cancelled',
  now: at(seconds),
});
export const voidGrant = (grantId: string, seconds = 0): LedgerCommand => ({
  type: 'VoidGrant',
  accountId: ACCOUNT_ID,
  grantId,
  reason: 'chargeback',
  now: at(seconds),
});
export const expireLot = (grantId: string, seconds: number): LedgerCommand => ({
  type: 'ExpireCredits',
  accountId: ACCOUNT_ID,
  grantId,
  now: at(seconds),
});
export const failed: ProjectEvent = {
  type: 'ProjectFailed',
  data: { code: 'cancelled', errorMessage: 'user cancelled' },
};
