import assert from 'node:assert';
import type { AccountEvent, CreditsGranted } from './account.events.js';
import {
  drawInOrder,
  legacyLentOf,
  LOT_BOOK,
  lotBookOf,
  lotsInSpendingOrder,
  NO_LOTS,
  returnLegacyInOrder,
  withLot,
  withNewLot,
  type Lot,
  type LotBook,
} from './account.lots.js';
import { applyMoney, isAmountOf, leastAmountOf, NO_MONEY, type AccountMoney } from './account.money.js';

/** The priority of a lot whose grant named none (API.md): lower is spent first. */
export const LOT_PRIORITY_DEFAULT = 50;

/**
 * An account as its events leave it: its money and its lots, in the spending order. All amounts
 * are credits, kept as JS numbers and asserted to be safe integers: the decisions refuse
 * anything that would take a total past Number.MAX_SAFE_INTEGER, so the sums are exact.
 * The state is cached and snapshotted as JSON, and this is its JSON. The fold keeps the lots
 * in a `LotBook` (account.lots.ts) and `lots` is a list made from it when first read, so no
 * step copies or re-sums the account's lots, and a decision reads only the lots it touches; a
 * state read back from a snapshot is plain JSON, and its book is built from its `lots` the
 * first time a decision or the fold needs it.
 */
export type AccountState = AccountMoney &
  Readonly<{
    /** An account exists from its first grant (API.md). */
    exists: boolean;
    lots: readonly Lot[];
  }>;

/**
 * An account event as the store gives it back: with its id, which names a lot whose
 * grant was written before lots had ids (DESIGN.md). Events a decision makes have none.
 */
export type StoredAccountEvent = AccountEvent & Readonly<{ id?: string }>;

export function initialAccountState(): AccountState {
  return new FoldedAccount(false, NO_MONEY, NO_LOTS);
}

/**
 * A state the fold made: its `lots` are its book's, listed when first read. `lots` is an own
 * enumerable getter, so the state reads, compares and stringifies (its snapshot) as the plain
 * object it stands for. The getter is one shared function (`LOTS`), not a closure per state:
 * V8 then keeps the states' fast shape, and makes one in a fraction of a microsecond.
 */
class FoldedAccount implements AccountState {
  readonly balance: number;
  readonly totalGranted: number;
  readonly totalDebited: number;
  readonly totalRefunded: number;
  readonly totalExpired: number;
  readonly totalVoided: number;
  declare readonly lots: readonly Lot[];
  readonly #book: LotBook;
  #lots: readonly Lot[] | undefined;

  constructor(
    readonly exists: boolean,
    money: AccountMoney,
    book: LotBook,
  ) {
    this.balance = money.balance;
    this.totalGranted = money.totalGranted;
    this.totalDebited = money.totalDebited;
    this.totalRefunded = money.totalRefunded;
    this.totalExpired = money.totalExpired;
    this.totalVoided = money.totalVoided;
    this.#book = book;
    Object.defineProperty(this, 'lots', LOTS);
  }

  static lotsOf(state: FoldedAccount): readonly Lot[] {
    return (state.#lots ??= lotsInSpendingOrder(state.#book));
  }

  get [LOT_BOOK](): LotBook {
    return this.#book;
  }
}

const LOTS: PropertyDescriptor = {
  enumerable: true,
  get(this: FoldedAccount) {
    return FoldedAccount.lotsOf(this);
  },
};

export function evolveAccount(state: AccountState, event: StoredAccountEvent): AccountState {
  const { amount } = event.data;
  assert(
    isAmountOf(event.type, amount),
    `${event.type}: amount ${amount} is not a ${leastAmountOf(event.type) === 0 ? 'non-negative' : 'positive'} safe integer`,
  );
  const money = applyMoney(moneyOf(state), event);
  const book = lotsAfter(lotBookOf(state), event);
  assertAccountInvariants(money, book);
  return new FoldedAccount(state.exists || event.type === 'CreditsGranted', money, book);
}

function moneyOf(state: AccountState): AccountMoney {
  const { balance, totalGranted, totalDebited, totalRefunded, totalExpired, totalVoided } = state;
  return { balance, totalGranted, totalDebited, totalRefunded, totalExpired, totalVoided };
}

function lotsAfter(lots: LotBook, event: StoredAccountEvent): LotBook {
  switch (event.type) {
    case 'CreditsGranted':
      return withNewLot(lots, lotOf(event, event.id, lots.count));
    case 'Debited': {
      // Written before lots: drawn by the spending order, when no lot could expire yet; what
      // it draws is lent to a debit that names no lots (`legacyLent`), only its refund returns it.
      const legacy = event.data.lots === undefined;
      const shares = event.data.lots ?? drawInOrder(lots, event.data.amount, undefined);
      assertSharesAddUp(event.type, shares, event.data.amount);
      return shares.reduce(
        (next, share) =>
          withLot(next, share.grantId, (lot) => {
            assert(lot.status === 'open', `Debited drew from the ${lot.status} lot ${lot.grantId}`);
            return moved(lot, -share.amount, legacy ? share.amount : 0);
          }),
        lots,
      );
    }
    case 'Refunded': {
      // Without lots (written before lots) or marked `legacy` (a project started before lots):
      // it returns what debits written before lots hold, and only that. Otherwise it returns
      // what a debit that named its lots drew: never what the legacy debits still hold.
      const legacy = event.data.lots === undefined || event.data.legacy === true;
      const shares = event.data.lots ?? returnLegacyInOrder(lots, event.data.amount);
      assertSharesAddUp(event.type, shares, event.data.amount);
      return shares.reduce(
        (next, share) =>
          withLot(next, share.grantId, (lot) => {
            if (legacy) {
              assert(
                share.amount <= legacyLentOf(lot),
                `a refund of a debit written before lots returned ${share.amount} to lot ${lot.grantId}, which such debits hold ${legacyLentOf(lot)} of`,
              );
              return moved(lot, share.amount, -share.amount);
            }
            // Debits naming the lot hold outstanding − legacyLent ≥ share.amount, so for every event
            // today's deciders write this keeps legacyLent; a refund the lots decider wrote before
            // `legacy` existed may have returned a legacy debit's credits unmarked: legacyLent then
            // shrinks to what is still drawn, so the stream folds (and such a refund can't recur).
            const kept = Math.min(legacyLentOf(lot), lot.outstanding - share.amount);
            return moved(lot, share.amount, kept - legacyLentOf(lot));
          }),
        lots,
      );
    }
    case 'CreditsExpired':
      // A part of a refund expired again leaves the lot open if credits remain: the sweep takes those.
      return withLot(lots, event.data.grantId, (lot) => {
        const remaining = lot.remaining - event.data.amount;
        return { ...lot, remaining, status: remaining === 0 && lot.status === 'open' ? 'expired' : lot.status };
      });
    case 'GrantVoided':
      return withLot(lots, event.data.grantId, (lot) => ({
        ...lot,
        remaining: lot.remaining - event.data.amount,
        status: lot.status === 'expired' ? 'expired' : 'voided',
      }));
  }
}

/**
 * `lot` after a draw (negative `back`) or a return of `back` credits, of which `legacy` moved
 * its `legacyLent`; that stays absent while it is 0 (every lot granted since lots).
 */
function moved(lot: Lot, back: number, legacy: number): Lot {
  const { legacyLent: _lent, ...rest } = lot;
  const lent = legacyLentOf(lot) + legacy;
  const next = { ...rest, remaining: lot.remaining + back, outstanding: lot.outstanding - back };
  return lent === 0 ? next : { ...next, legacyLent: lent };
}

function lotOf(event: CreditsGranted, eventId: string | undefined, seq: number): Lot {
  const { amount, source, reference, grantId, category, priority, expiresAt } = event.data;
  // Written before lots: a paid lot that never expires, named after its event (DESIGN.md).
  const id = grantId ?? eventId;
  assert(id !== undefined, 'a CreditsGranted without grantId needs its event id');
  return {
    grantId: id,
    seq,
    category: category ?? 'paid',
    priority: priority ?? LOT_PRIORITY_DEFAULT,
    ...(expiresAt === undefined ? {} : { expiresAt }),
    source,
    ...(reference === undefined ? {} : { reference }),
    granted: amount,
    remaining: amount,
    outstanding: 0,
    status: 'open',
  };
}

function assertSharesAddUp(type: string, shares: readonly { amount: number }[], amount: number): void {
  assert(
    shares.every((share) => Number.isSafeInteger(share.amount) && share.amount > 0),
    `${type}: a lot share is not a positive safe integer`,
  );
  const sum = shares.reduce((total, share) => total + share.amount, 0);
  assert.strictEqual(sum, amount, `${type}: its lots add up to ${sum}, not ${amount}`);
}

const TOTALS = ['balance', 'totalGranted', 'totalDebited', 'totalRefunded', 'totalExpired', 'totalVoided'] as const;

/**
 * I1, the account's half of I2, and I7's sum (kept with the lots as each changes, not re-summed);
 * a failure here is a bug in a decision, never bad input.
 */
function assertAccountInvariants(money: AccountMoney, lots: LotBook): void {
  const { balance, totalGranted, totalDebited, totalRefunded, totalExpired, totalVoided } = money;
  for (const name of TOTALS) {
    assert(Number.isSafeInteger(money[name]), `account ${name} ${money[name]} is not a safe integer`);
  }
  assert(balance >= 0, `account balance ${balance} is below zero`);
  assert(
    balance === totalGranted - totalDebited + totalRefunded - totalExpired - totalVoided,
    'account balance does not match its totals',
  );
  assert(totalRefunded <= totalDebited, `account refunded ${totalRefunded} more than it was debited ${totalDebited}`);
  assert.strictEqual(lots.remaining, balance, `I7: the lots hold ${lots.remaining}, the balance is ${balance}`);
}
