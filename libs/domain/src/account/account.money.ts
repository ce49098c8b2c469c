import type { AccountEvent } from './account.events.js';

/**
 * An account's money: the one place that says what each account event does to it
 * (a grant adds, a debit takes, a refund gives back, an expiry or a void takes what
 * remained of a lot). The decider's state, the projections' checks, reconciliation and
 * the test model all fold with this. `balance` is what can be spent:
 * totalGranted − totalDebited + totalRefunded − totalExpired − totalVoided (API.md).
 */
export type AccountMoney = Readonly<{
  balance: number;
  totalGranted: number;
  totalDebited: number;
  totalRefunded: number;
  totalExpired: number;
  totalVoided: number;
}>;

export const NO_MONEY: AccountMoney = {
  balance: 0,
  totalGranted: 0,
  totalDebited: 0,
  totalRefunded: 0,
  totalExpired: 0,
  totalVoided: 0,
};

/** The account's money after one event; it checks nothing, so a reader can fold a log it is auditing. */
export function applyMoney<M extends AccountMoney>(money: M, event: Pick<AccountEvent, 'type' | 'data'>): M {
  const { amount } = event.data;
  switch (event.type) {
    case 'CreditsGranted':
      return { ...money, balance: money.balance + amount, totalGranted: money.totalGranted + amount };
    case 'Debited':
      return { ...money, balance: money.balance - amount, totalDebited: money.totalDebited + amount };
    case 'Refunded':
      return { ...money, balance: money.balance + amount, totalRefunded: money.totalRefunded + amount };
    case 'CreditsExpired':
      return { ...money, balance: money.balance - amount, totalExpired: money.totalExpired + amount };
    case 'GrantVoided':
      return { ...money, balance: money.balance - amount, totalVoided: money.totalVoided + amount };
  }
}

const ACCOUNT_EVENT_TYPES: ReadonlySet<string> = new Set<AccountEvent['type']>([
  'CreditsGranted',
  'Debited',
  'Refunded',
  'CreditsExpired',
  'GrantVoided',
]);

/** True for the event types that move an account's money. */
export function isAccountEventType(type: string): type is AccountEvent['type'] {
  return ACCOUNT_EVENT_TYPES.has(type);
}

/**
 * The fewest credits an account event may move: a void of a lot whose credits are all spent
 * or held by projects still closes it (0); every other movement moves at least one credit.
 */
export function leastAmountOf(type: AccountEvent['type']): 0 | 1 {
  return type === 'GrantVoided' ? 0 : 1;
}

/** True when `amount` is a safe integer an event of `type` may move (see `leastAmountOf`). */
export function isAmountOf(type: AccountEvent['type'], amount: unknown): amount is number {
  return typeof amount === 'number' && Number.isSafeInteger(amount) && amount >= leastAmountOf(type);
}
