import type { AccountEvent, LotShare } from './account.events.js';
import { findLot, isExpiredAt, returnInOrder, returnLastDrawnFirst } from './account.lots.js';
import type { AccountState } from './account.state.js';

/** The reason a refunded part of a voided lot is voided again with (the lot's own void said why). */
export const VOID_REASON_REFUNDED_TO_VOIDED_LOT = 'refunded_to_voided_lot';

/**
 * A project's refund as account events: `Refunded` with the lots it returns to, the last
 * drawn first, then, in the same append, the part returned to a lot that has expired (at
 * `now`, recorded or not) or was voided, expired or voided again. So the project's refund
 * counts every credit it gives back and the spendable balance only those still spendable.
 * `draws` is what the project's debit drew (ProjectStarted's `lots`); a project started
 * before lots has none, and its refund returns by the spending order instead.
 */
export function refundEvents(
  account: AccountState,
  refund: Readonly<{ projectId: string; amount: number; reason: string; alreadyRefunded: number; now: Date }>,
  draws: readonly LotShare[] | undefined,
): AccountEvent[] {
  const { projectId, amount, reason, alreadyRefunded, now } = refund;
  if (amount === 0) return [];
  const lots =
    draws === undefined ? returnInOrder(account.lots, amount) : returnLastDrawnFirst(draws, alreadyRefunded, amount);
  const events: AccountEvent[] = [{ type: 'Refunded', data: { amount, projectId, reason, lots } }];
  for (const share of lots) {
    const lot = findLot(account.lots, share.grantId);
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
