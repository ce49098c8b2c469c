import assert from 'node:assert';
import type { AccountEvent, LotShare } from './account.events.js';
import { findLot, isExpiredAt, legacyLentOf, returnLastDrawnFirst, returnLegacyInOrder } from './account.lots.js';
import type { AccountState } from './account.state.js';

/** The reason a refunded part of a voided lot is voided again with (the lot's own void said why). */
export const VOID_REASON_REFUNDED_TO_VOIDED_LOT = 'refunded_to_voided_lot';

/**
 * A project's refund as account events: `Refunded` with the lots it returns to, the last
 * drawn first, then, in the same append, the part returned to a lot that has expired (at
 * `now`, recorded or not) or was voided, expired or voided again. So the project's refund
 * counts every credit it gives back and the spendable balance only those still spendable.
 * `draws` is what the project's debit drew (ProjectStarted's `lots`); a project started
 * before lots has none: its refund returns by the spending order, only to lots that debits
 * written before lots drew from and up to what they still hold there (`legacyLent`), and
 * says so (`legacy`), never to a lot a newer debit drew (those credits are its own).
 * The command executor folds every decision's events on the state decided on before it
 * appends them, so a refund the account's fold would refuse fails its command, never the stream.
 */
export function refundEvents(
  account: AccountState,
  refund: Readonly<{ projectId: string; amount: number; reason: string; alreadyRefunded: number; now: Date }>,
  draws: readonly LotShare[] | undefined,
): AccountEvent[] {
  const { projectId, amount, reason, alreadyRefunded, now } = refund;
  if (amount === 0) return [];
  const legacy = draws === undefined;
  const lots = legacy ? returnLegacyInOrder(account, amount) : returnLastDrawnFirst(draws, alreadyRefunded, amount);
  if (!legacy) {
    // What a debit naming its lots drew is held apart from what legacy debits hold: giving it
    // back never takes a lot's `legacyLent`, which an older project's refund is still owed.
    for (const share of lots) {
      const lot = findLot(account, share.grantId);
      if (lot === undefined) continue; // the fold refuses it
      assert(
        share.amount <= lot.outstanding - legacyLentOf(lot),
        `a refund of ${share.amount} to lot ${lot.grantId} would take credits debits written before lots hold`,
      );
    }
  }
  const events: AccountEvent[] = [
    { type: 'Refunded', data: { amount, projectId, reason, lots, ...(legacy ? { legacy: true as const } : {}) } },
  ];
  for (const share of lots) {
    const lot = findLot(account, share.grantId);
    if (lot === undefined) continue; // evolve refuses it: a draw from a lot the account never had
    if (lot.status === 'voided') {
      events.push({
        type: 'GrantVoided',
        data: { grantId: share.grantId, amount: share.amount, reason: VOID_REASON_REFUNDED_TO_VOIDED_LOT },
      });
    } else if (lot.status === 'expired' || isExpiredAt(lot, now.getTime())) {
      events.push({ type: 'CreditsExpired', data: { grantId: share.grantId, amount: share.amount } });
    }
  }
  return events;
}
