import assert from 'node:assert';
import type { GrantSource, LotCategory, LotShare } from './account.events.js';

/**
 * One grant as the account keeps it. `remaining` is what can still be spent (until
 * `expiresAt`); `outstanding` is what was drawn and not given back, the most a refund
 * may still return to this lot. A lot is `open` until its expiry or a void is recorded;
 * an open lot with nothing remaining is exhausted, and stays because a running
 * project's refund may still come back to it.
 */
export type Lot = Readonly<{
  grantId: string;
  /** Its place among the account's grants, oldest first: the spending order's last rule. */
  seq: number;
  category: LotCategory;
  priority: number;
  /** ISO 8601 as Date.toISOString writes it (so two of them compare as strings); absent: never expires. */
  expiresAt?: string;
  source: GrantSource;
  reference?: string;
  granted: number;
  remaining: number;
  outstanding: number;
  /**
   * The part of `outstanding` that debits written before lots still hold (`Debited`
   * without `lots`, drawn by the spending order as the fold replays them): the most a
   * refund of a debit that named no lots (a project started before lots) may return
   * here. The rest of `outstanding` is held by debits that named this lot, and only
   * their own refunds return it. 0 ≤ legacyLent ≤ outstanding; absent: 0 (every lot
   * granted since lots, and the snapshots stay as small as they were).
   */
  legacyLent?: number;
  status: 'open' | 'expired' | 'voided';
}>;

export function isExpiredAt(lot: Lot, nowMs: number): boolean {
  return lot.expiresAt !== undefined && lot.expiresAt <= instantOf(nowMs);
}

/**
 * `nowMs` as Date.toISOString writes it, the form every `expiresAt` is kept in: then an
 * expiry compares with a string comparison, not a parse per lot (decisions run over up to
 * ACTIVE_LOTS_MAX lots). Commands' `now` is validated to a four-digit year, so the forms agree.
 */
function instantOf(nowMs: number): string {
  return new Date(nowMs).toISOString();
}

/** Can be drawn from at `nowIso`; without a time (folding events written before lots), nothing is expired. */
function isSpendableAt(lot: Lot, nowIso: string | undefined): boolean {
  return (
    lot.status === 'open' &&
    lot.remaining > 0 &&
    (nowIso === undefined || lot.expiresAt === undefined || lot.expiresAt > nowIso)
  );
}

export function isSpendable(lot: Lot, nowMs: number | undefined): boolean {
  return isSpendableAt(lot, nowMs === undefined ? undefined : instantOf(nowMs));
}

/** Holds credits (spent or not) and was not closed: what the bound on active lots counts. */
export function isActive(lot: Lot): boolean {
  return lot.status === 'open' && lot.remaining > 0;
}

/** What can be spent now: the remaining credits of the lots not expired at `nowMs`. */
export function spendableAt(lots: readonly Lot[], nowMs: number): number {
  const nowIso = instantOf(nowMs);
  let sum = 0;
  for (const lot of lots) if (isSpendableAt(lot, nowIso)) sum += lot.remaining;
  return sum;
}

/**
 * The spending order (API.md): lowest priority; then the earliest expiry, lots that never
 * expire last; then promotional before paid; then the oldest grant. None of these ever
 * changes for a lot, so the state keeps its lots in this order (`withNewLot`) and a debit
 * only scans from the front.
 */
type Ranked = Pick<Lot, 'priority' | 'expiresAt' | 'category' | 'seq'>;

export function compareForSpending(a: Ranked, b: Ranked): number {
  if (a.priority !== b.priority) return a.priority - b.priority;
  if (a.expiresAt !== b.expiresAt) {
    if (a.expiresAt === undefined) return 1;
    if (b.expiresAt === undefined) return -1;
    return a.expiresAt < b.expiresAt ? -1 : 1;
  }
  if (a.category !== b.category) return a.category === 'promotional' ? -1 : 1;
  return a.seq - b.seq;
}

/**
 * Lots in any order sorted into the spending order, those `keep` keeps: for readers that
 * hold lots of their own (the state's are in this order already). A lot without `seq`
 * takes its index as its grant order.
 */
export function inSpendingOrder<L extends Omit<Ranked, 'seq'> & { seq?: number }>(
  lots: readonly L[],
  keep: (lot: L) => boolean = () => true,
): L[] {
  const ranked = lots.flatMap((lot, index) => (keep(lot) ? [{ lot, rank: { ...lot, seq: lot.seq ?? index } }] : []));
  ranked.sort((a, b) => compareForSpending(a.rank, b.rank));
  return ranked.map((entry) => entry.lot);
}

/** The lots with `lot` in its place in the spending order (after every lot it does not precede). */
export function withNewLot(lots: readonly Lot[], lot: Lot): Lot[] {
  let low = 0;
  let high = lots.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (compareForSpending(lots[middle]!, lot) <= 0) low = middle + 1;
    else high = middle;
  }
  return [...lots.slice(0, low), lot, ...lots.slice(low)];
}

/** What a debit of `amount` draws, lot by lot, in the spending order; the caller checked there is enough. */
export function drawInOrder(lots: readonly Lot[], amount: number, nowMs: number | undefined): LotShare[] {
  const nowIso = nowMs === undefined ? undefined : instantOf(nowMs);
  const shares: LotShare[] = [];
  let left = amount;
  for (const lot of lots) {
    if (left === 0) break;
    if (!isSpendableAt(lot, nowIso)) continue;
    const take = Math.min(lot.remaining, left);
    shares.push({ grantId: lot.grantId, amount: take });
    left -= take;
  }
  assert.strictEqual(left, 0, `the lots hold ${amount - left} spendable credits, a debit needs ${amount}`);
  return shares;
}

/**
 * Where a refund of `amount` goes back when its debit said which lots it drew: the last
 * drawn first, after what earlier refunds of the same debit already took back from the end.
 */
export function returnLastDrawnFirst(draws: readonly LotShare[], alreadyReturned: number, amount: number): LotShare[] {
  const shares: LotShare[] = [];
  let skip = alreadyReturned;
  let left = amount;
  for (let i = draws.length - 1; i >= 0 && left > 0; i--) {
    const draw = draws[i]!;
    const skipped = Math.min(skip, draw.amount);
    skip -= skipped;
    const take = Math.min(draw.amount - skipped, left);
    if (take > 0) shares.push({ grantId: draw.grantId, amount: take });
    left -= take;
  }
  assert.strictEqual(left, 0, `a refund of ${amount} exceeds what its debit drew`);
  return shares;
}

/** What debits written before lots still hold of `lot`'s credits. */
export function legacyLentOf(lot: Lot): number {
  return lot.legacyLent ?? 0;
}

/**
 * Where a refund goes back when nothing says which lots its debit drew (a debit written
 * before lots: an unnamed `Refunded` folded, or the refund of a project started before
 * lots decided): by the spending order, to each lot up to what debits written before
 * lots drew from it and did not get back (`legacyLent`), whatever its state (an expired
 * or voided lot closes it again). Never to a lot only debits that named their lots drew
 * from: those credits belong to them (a lot granted since lots has no `legacyLent`).
 * In a stream written entirely before lots, `legacyLent` is `outstanding`: the same
 * lots as the spending order over what each lot lent out, as the lots projection replays it.
 */
export function returnLegacyInOrder(lots: readonly Lot[], amount: number): LotShare[] {
  const shares: LotShare[] = [];
  let left = amount;
  for (const lot of lots) {
    if (left === 0) break;
    const lent = legacyLentOf(lot);
    if (lent === 0) continue;
    const take = Math.min(lent, left);
    shares.push({ grantId: lot.grantId, amount: take });
    left -= take;
  }
  assert.strictEqual(left, 0, `a refund of ${amount} exceeds what debits written before lots hold`);
  return shares;
}

/** The lot named `grantId`, changed by `change`; a lot that is not there is a corrupt stream or a bug. */
export function withLot(lots: readonly Lot[], grantId: string, change: (lot: Lot) => Lot): Lot[] {
  const index = lots.findIndex((lot) => lot.grantId === grantId);
  assert(index >= 0, `no lot ${grantId}`);
  const changed = change(lots[index]!);
  assert(Number.isSafeInteger(changed.remaining) && changed.remaining >= 0, `lot ${grantId} fell below zero`);
  assert(
    Number.isSafeInteger(changed.outstanding) && changed.outstanding >= 0,
    `lot ${grantId} was refunded more than was drawn from it`,
  );
  const lent = legacyLentOf(changed);
  assert(
    Number.isSafeInteger(lent) && lent >= 0 && lent <= changed.outstanding,
    `lot ${grantId}: debits written before lots hold ${lent} of its ${changed.outstanding} drawn credits`,
  );
  const next = lots.slice();
  next[index] = changed;
  return next;
}

export function findLot(lots: readonly Lot[], grantId: string): Lot | undefined {
  return lots.find((lot) => lot.grantId === grantId);
}
