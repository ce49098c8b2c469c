import assert from 'node:assert';
import { mapDelete, mapGet, mapSet, mapValues, type SortedMap } from '../sorted-map.js';
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

/**
 * The spending order (API.md): lowest priority; then the earliest expiry, lots that never
 * expire last; then promotional before paid; then the oldest grant. None of these ever
 * changes for a lot, so the state keeps its active lots in this order (`LotBook.active`) and
 * a debit only walks from the front.
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
 * An account's lots, kept so that a decision or a fold step costs O(log n) for each lot it
 * touches, never O(n) for the account's n lots (at most LOTS_KEPT_MAX; a stream written
 * before lots may have more): persistent sorted maps (../sorted-map.ts), so a step shares
 * every untouched lot with the book it came from, which stays as it was. Every lot's
 * figures live in `byId`; the other maps only say which lots are where, in which order.
 */
export type LotBook = Readonly<{
  byId: SortedMap<string, Lot>;
  /** The active lots (`isActive`) in the spending order, by their rank: what a debit draws from. */
  active: SortedMap<Lot, string>;
  /** The active lots that expire, soonest first: what a balance at a time leaves out once past. */
  expiring: SortedMap<Lot, string>;
  /** The lots debits written before lots still hold credits of (`legacyLent`), in the spending order. */
  legacy: SortedMap<Lot, string>;
  count: number;
  activeCount: number;
  /** What every lot has remaining: I7's side of the balance. */
  remaining: number;
  /** What the active lots have remaining: the balance, less a lot past its expiry not yet recorded. */
  activeRemaining: number;
}>;

export const NO_LOTS: LotBook = {
  byId: undefined,
  active: undefined,
  expiring: undefined,
  legacy: undefined,
  count: 0,
  activeCount: 0,
  remaining: 0,
  activeRemaining: 0,
};

const byGrantId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function byExpiry(a: Lot, b: Lot): number {
  if (a.expiresAt !== b.expiresAt) return a.expiresAt! < b.expiresAt! ? -1 : 1;
  return a.seq - b.seq;
}

/** The book with a lot changed from `before` (undefined: a new lot) to `after`, every index following. */
function rebooked(book: LotBook, before: Lot | undefined, after: Lot): LotBook {
  let { active, expiring, legacy, activeCount } = book;
  const wasActive = before !== undefined && isActive(before);
  const nowActive = isActive(after);
  if (wasActive !== nowActive) {
    if (nowActive) {
      active = mapSet(active, after, after.grantId, compareForSpending);
      if (after.expiresAt !== undefined) expiring = mapSet(expiring, after, after.grantId, byExpiry);
      activeCount += 1;
    } else {
      active = mapDelete(active, after, compareForSpending);
      if (after.expiresAt !== undefined) expiring = mapDelete(expiring, after, byExpiry);
      activeCount -= 1;
    }
  }
  const wasLent = before !== undefined && legacyLentOf(before) > 0;
  const nowLent = legacyLentOf(after) > 0;
  if (wasLent !== nowLent) {
    legacy = nowLent
      ? mapSet(legacy, after, after.grantId, compareForSpending)
      : mapDelete(legacy, after, compareForSpending);
  }
  return {
    byId: mapSet(book.byId, after.grantId, after, byGrantId),
    active,
    expiring,
    legacy,
    count: book.count + (before === undefined ? 1 : 0),
    activeCount,
    // The change first: a sum may be close to Number.MAX_SAFE_INTEGER, the sum with `after` past it.
    remaining: book.remaining + (after.remaining - (before?.remaining ?? 0)),
    activeRemaining: book.activeRemaining + ((nowActive ? after.remaining : 0) - (wasActive ? before.remaining : 0)),
  };
}

/** The book with a new lot; its `seq` is its place among the grants (`count`). */
export function withNewLot(book: LotBook, lot: Lot): LotBook {
  assert(mapGet(book.byId, lot.grantId, byGrantId) === undefined, `a second grant of lot ${lot.grantId}`);
  return rebooked(book, undefined, lot);
}

/** The lot named `grantId`, changed by `change`; a lot that is not there is a corrupt stream or a bug. */
export function withLot(book: LotBook, grantId: string, change: (lot: Lot) => Lot): LotBook {
  const lot = mapGet(book.byId, grantId, byGrantId);
  assert(lot !== undefined, `no lot ${grantId}`);
  const changed = change(lot);
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
  return rebooked(book, lot, changed);
}

/** Every lot, in the spending order: O(n log n), for readers of the whole list (`AccountState.lots`). */
export function lotsInSpendingOrder(book: LotBook): Lot[] {
  return [...mapValues(book.byId)].sort(compareForSpending);
}

/** Anything that holds an account's lots: an `AccountState`, folded or read back from a snapshot. */
export type AccountLots = Readonly<{ lots: readonly Lot[]; [LOT_BOOK]?: LotBook }>;

/** Where a state the fold made keeps its book: read through its prototype, so not in its JSON, spread or equality. */
export const LOT_BOOK: unique symbol = Symbol('LotBook');

const built = new WeakMap<AccountLots, LotBook>();

/**
 * The book of an account's lots: the one its fold kept, or, for a state read back from a
 * snapshot (plain JSON, as older versions wrote it too), one built from its `lots` the
 * first time it is asked for, and kept for it.
 */
export function lotBookOf(account: AccountLots): LotBook {
  let book = account[LOT_BOOK] ?? built.get(account);
  if (book === undefined) {
    book = NO_LOTS;
    for (const lot of account.lots) book = rebooked(book, undefined, lot);
    built.set(account, book);
  }
  return book;
}

/** An account's lots, or their book (what the fold has in hand): what the functions below read. */
export type Lots = AccountLots | LotBook;

const bookOf = (lots: Lots): LotBook => ('byId' in lots ? lots : lotBookOf(lots));

export function findLot(lots: Lots, grantId: string): Lot | undefined {
  return mapGet(bookOf(lots).byId, grantId, byGrantId);
}

/** Lots that hold credits (`isActive`), and lots kept in all: what the bounds on lots count. */
export function lotCounts(lots: Lots): Readonly<{ active: number; all: number }> {
  const book = bookOf(lots);
  return { active: book.activeCount, all: book.count };
}

/** What the lots hold in all, spendable or not: I7 says it is the balance. */
export function lotsRemaining(lots: Lots): number {
  return bookOf(lots).remaining;
}

/** What can be spent now: the remaining credits of the lots not expired at `nowMs`. */
export function spendableAt(lots: Lots, nowMs: number): number {
  const book = bookOf(lots);
  if (book.expiring === undefined) return book.activeRemaining;
  const nowIso = instantOf(nowMs);
  let sum = book.activeRemaining;
  // Soonest first: only the lots past their expiry are visited, and the first not yet past.
  for (const grantId of mapValues(book.expiring)) {
    const lot = mapGet(book.byId, grantId, byGrantId)!;
    if (isSpendableAt(lot, nowIso)) break;
    sum -= lot.remaining;
  }
  return sum;
}

/**
 * What a debit of `amount` draws, lot by lot, in the spending order; the caller checked there
 * is enough. It visits the active lots from the front, those it draws from and those past
 * their expiry before them (until the sweep records them), never a spent or closed lot.
 */
export function drawInOrder(lots: Lots, amount: number, nowMs: number | undefined): LotShare[] {
  const book = bookOf(lots);
  // Written only once a lot that expires comes up (most draws have none ahead of them);
  // undefined, `isSpendableAt` holds nothing expired, right for a lot that never expires.
  let nowIso: string | undefined;
  const shares: LotShare[] = [];
  let left = amount;
  if (left > 0) {
    for (const grantId of mapValues(book.active)) {
      const lot = mapGet(book.byId, grantId, byGrantId)!;
      if (nowMs !== undefined && lot.expiresAt !== undefined) nowIso ??= instantOf(nowMs);
      if (!isSpendableAt(lot, nowIso)) continue;
      const take = Math.min(lot.remaining, left);
      shares.push({ grantId, amount: take });
      left -= take;
      if (left === 0) break;
    }
  }
  assert.strictEqual(left, 0, `the lots hold ${amount - left} spendable credits, a debit needs ${amount}`);
  return shares;
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
export function returnLegacyInOrder(lots: Lots, amount: number): LotShare[] {
  const book = bookOf(lots);
  const shares: LotShare[] = [];
  let left = amount;
  if (left > 0) {
    for (const grantId of mapValues(book.legacy)) {
      const take = Math.min(legacyLentOf(mapGet(book.byId, grantId, byGrantId)!), left);
      shares.push({ grantId, amount: take });
      left -= take;
      if (left === 0) break;
    }
  }
  assert.strictEqual(left, 0, `a refund of ${amount} exceeds what debits written before lots hold`);
  return shares;
}
