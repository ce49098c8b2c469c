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
};

const remainingOf = (lot: ModelLot) => lot.granted - lot.drawn + lot.returned - lot.expired - lot.voided;
const isExpired = (lot: ModelLot, atMs: number) => lot.expiresAtMs !== undefined && atMs >= lot.expiresAtMs;

/** The model's lots after the events, for checks and for what a reply may say. */
export function lotsFromLog(events: readonly AccountEvent[], timesMs: readonly number[]): Map<string, ModelLot> {
  const lots = new Map<string, ModelLot>();
  events.forEach((event, i) => {
    const atMs = timesMs[i]!;
    switch (event.type) {
      case 'CreditsGranted': {
        const { grantId, amount, priority, category, expiresAt } = event.data;
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
        });
        break;
      }
      case 'Debited': {
        assert(event.data.lots !== undefined, 'I7: a Debited without its lots');
        assert.deepStrictEqual(event.data.lots, spendingOrderDraw(lots, event.data.amount, atMs), 'I7: spending order');
        for (const share of event.data.lots) lotOf(lots, share).drawn += share.amount;
        break;
      }
      case 'Refunded': {
        assert(event.data.lots !== undefined, 'I7: a Refunded without its lots');
        const closures = events.slice(i + 1).filter((e, j) => timesMs[i + 1 + j] === atMs);
        for (const share of event.data.lots) {
          const lot = lotOf(lots, share);
          lot.returned += share.amount;
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

function lotOf(lots: Map<string, ModelLot>, share: Pick<LotShare, 'grantId'>): ModelLot {
  const lot = lots.get(share.grantId);
  assert(lot !== undefined, `I7: no lot ${share.grantId}`);
  return lot;
}

/** The spending order written out plainly: sort the lots one can draw from, take greedily. */
function spendingOrderDraw(lots: Map<string, ModelLot>, amount: number, atMs: number): LotShare[] {
  const open = [...lots.values()].filter((lot) => !lot.isVoided && !isExpired(lot, atMs) && remainingOf(lot) > 0);
  open.sort(
    (a, b) =>
      a.priority - b.priority ||
      (a.expiresAtMs ?? Infinity) - (b.expiresAtMs ?? Infinity) ||
      (a.category === b.category ? 0 : a.category === 'promotional' ? -1 : 1) ||
      a.order - b.order,
  );
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
