import assert from 'node:assert';
import type { AccountEvent, LotShare } from '../account/account.events.js';

/**
 * I7 from the log alone, with its own simple model of lots (not the decider's): per lot,
 * remaining = granted − drawn + returned − expired − voided, never below zero; the lots add
 * up to the balance; nothing drawn at or after a lot's expiry; every Debited draws in the
 * spending order of API.md, recomputed here from the lots as they were at its time.
 */
type ModelLot = {
  grantId: string;
  order: number;
  priority: number;
  category: string;
  expiresAtMs: number | undefined;
  granted: number;
  drawn: number;
  returned: number;
  expired: number;
  voided: number;
  isVoided: boolean;
  /** Of `drawn` and `returned`, what debits written before lots (no `lots`) drew and their refunds gave back. */
  legacyDrawn: number;
  legacyReturned: number;
};

const remainingOf = (lot: ModelLot) => lot.granted - lot.drawn + lot.returned - lot.expired - lot.voided;
const isExpired = (lot: ModelLot, atMs: number) => lot.expiresAtMs !== undefined && atMs >= lot.expiresAtMs;
/** What debits written before lots still hold of the lot, and what debits that named it hold. */
const legacyHeldOf = (lot: ModelLot) => lot.legacyDrawn - lot.legacyReturned;
const namedHeldOf = (lot: ModelLot) => lot.drawn - lot.legacyDrawn - (lot.returned - lot.legacyReturned);

/**
 * The model's lots after the events, for checks and for what a reply may say. Events written
 * before lots (grants without grantId, named after their event id; debits and refunds without
 * lots) are drawn and returned by the spending order, when nothing expired yet; what they hold
 * of a lot is kept apart from what debits naming the lot hold: each refund gives back only its
 * own kind (a refund marked `legacy` is one of a project started before lots).
 */
export function lotsFromLog(
  events: readonly (AccountEvent & { id?: string })[],
  timesMs: readonly number[],
): Map<string, ModelLot> {
  const lots = new Map<string, ModelLot>();
  events.forEach((event, i) => {
    const atMs = timesMs[i]!;
    switch (event.type) {
      case 'CreditsGranted': {
        const { amount, priority, category, expiresAt } = event.data;
        const grantId = event.data.grantId ?? event.id;
        assert(grantId !== undefined && !lots.has(grantId), `I7: grant ${grantId} is not a new lot`);
        lots.set(grantId, {
          grantId,
          order: lots.size,
          priority: priority ?? 50,
          category: category ?? 'paid',
          expiresAtMs: expiresAt === undefined ? undefined : Date.parse(expiresAt),
          granted: amount,
          drawn: 0,
          returned: 0,
          expired: 0,
          voided: 0,
          isVoided: false,
          legacyDrawn: 0,
          legacyReturned: 0,
        });
        break;
      }
      case 'Debited': {
        if (event.data.lots === undefined) {
          // Before lots: nothing had expired yet.
          const shares = spendingOrderDraw(lots, event.data.amount, -Infinity);
          assert.strictEqual(sumOf(shares), event.data.amount, 'I7: a debit before lots found too little');
          for (const share of shares) {
            lotOf(lots, share).drawn += share.amount;
            lotOf(lots, share).legacyDrawn += share.amount;
          }
          break;
        }
        assert.deepStrictEqual(event.data.lots, spendingOrderDraw(lots, event.data.amount, atMs), 'I7: spending order');
        for (const share of event.data.lots) lotOf(lots, share).drawn += share.amount;
        break;
      }
      case 'Refunded': {
        const legacy = event.data.lots === undefined || event.data.legacy === true;
        if (legacy) {
          const expected = legacyReturn(lots, event.data.amount);
          assert.strictEqual(sumOf(expected), event.data.amount, 'I7: a legacy refund exceeds what legacy debits hold');
          if (event.data.lots !== undefined) {
            assert.deepStrictEqual(event.data.lots, expected, 'I7: a legacy refund not by the spending order');
          }
        }
        const closures = events.slice(i + 1).filter((e, j) => timesMs[i + 1 + j] === atMs);
        for (const share of event.data.lots ?? legacyReturn(lots, event.data.amount)) {
          const lot = lotOf(lots, share);
          // Each refund gives back only what its own kind of debit holds of the lot.
          const held = legacy ? legacyHeldOf(lot) : namedHeldOf(lot);
          assert(
            share.amount <= held,
            `I7: lot ${lot.grantId} got back ${share.amount}, more than ${legacy ? 'debits before lots' : 'debits naming it'} hold (${held})`,
          );
          lot.returned += share.amount;
          if (legacy) lot.legacyReturned += share.amount;
          assert(lot.returned <= lot.drawn, `I7: lot ${lot.grantId} got back more than was drawn from it`);
          // The part returned to a lot past its expiry or voided is closed again in the same step.
          const type = lot.isVoided ? 'GrantVoided' : isExpired(lot, atMs) ? 'CreditsExpired' : undefined;
          if (type === undefined) continue;
          assert(
            closures.some((e) => e.type === type && e.data.grantId === lot.grantId && e.data.amount === share.amount),
            `I7: a refund to the closed lot ${lot.grantId} came back spendable`,
          );
        }
        break;
      }
      case 'CreditsExpired': {
        const lot = lotOf(lots, event.data);
        assert(isExpired(lot, atMs), `I7: lot ${lot.grantId} expired before its expiresAt`);
        lot.expired += event.data.amount;
        break;
      }
      case 'GrantVoided': {
        const lot = lotOf(lots, event.data);
        lot.voided += event.data.amount;
        lot.isVoided = true;
        break;
      }
    }
    for (const lot of lots.values()) assert(remainingOf(lot) >= 0, `I7: lot ${lot.grantId} fell below zero`);
  });
  return lots;
}

export function checkLots(events: readonly AccountEvent[], timesMs: readonly number[], balance: number): void {
  const lots = lotsFromLog(events, timesMs);
  const sum = [...lots.values()].reduce((total, lot) => total + remainingOf(lot), 0);
  assert.strictEqual(sum, balance, `I7: the lots hold ${sum}, the balance is ${balance}`);
}

/** What can be spent at `atMs`: remaining credits of lots neither expired nor voided. */
export function spendableFromLog(events: readonly AccountEvent[], timesMs: readonly number[], atMs: number): number {
  let sum = 0;
  for (const lot of lotsFromLog(events, timesMs).values()) {
    if (!lot.isVoided && !isExpired(lot, atMs)) sum += remainingOf(lot);
  }
  return sum;
}

const sumOf = (shares: readonly LotShare[]) => shares.reduce((sum, share) => sum + share.amount, 0);

/** Where a refund of a debit from before lots goes: by the spending order, up to what such debits hold of each lot. */
function legacyReturn(lots: Map<string, ModelLot>, amount: number): LotShare[] {
  const held = [...lots.values()].filter((lot) => legacyHeldOf(lot) > 0);
  held.sort(bySpendingOrder);
  const shares: LotShare[] = [];
  let left = amount;
  for (const lot of held) {
    if (left === 0) break;
    const take = Math.min(legacyHeldOf(lot), left);
    shares.push({ grantId: lot.grantId, amount: take });
    left -= take;
  }
  return shares;
}

const bySpendingOrder = (a: ModelLot, b: ModelLot) =>
  a.priority - b.priority ||
  (a.expiresAtMs ?? Infinity) - (b.expiresAtMs ?? Infinity) ||
  (a.category === b.category ? 0 : a.category === 'promotional' ? -1 : 1) ||
  a.order - b.order;

function lotOf(lots: Map<string, ModelLot>, share: Pick<LotShare, 'grantId'>): ModelLot {
  const lot = lots.get(share.grantId);
  assert(lot !== undefined, `I7: no lot ${share.grantId}`);
  return lot;
}

/** The spending order written out plainly: sort the lots one can draw from, take greedily. */
function spendingOrderDraw(lots: Map<string, ModelLot>, amount: number, atMs: number): LotShare[] {
  const open = [...lots.values()].filter((lot) => !lot.isVoided && !isExpired(lot, atMs) && remainingOf(lot) > 0);
  open.sort(bySpendingOrder);
  const shares: LotShare[] = [];
  let left = amount;
  for (const lot of open) {
    if (left === 0) break;
    const take = Math.min(remainingOf(lot), left);
    shares.push({ grantId: lot.grantId, amount: take });
    left -= take;
  }
  return shares;
}
