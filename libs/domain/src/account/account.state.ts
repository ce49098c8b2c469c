import assert from 'node:assert';
import type { AccountEvent } from './account.events.js';

/**
 * An account as its events leave it. All amounts are credits, kept as JS numbers and
 * asserted to be safe integers: the grant and debit decisions refuse anything that would
 * take a total past Number.MAX_SAFE_INTEGER, so the sums here are always exact.
 */
export type AccountState = Readonly<{
  /** An account exists from its first grant (API.md). */
  exists: boolean;
  balance: number;
  totalGranted: number;
  totalDebited: number;
  totalRefunded: number;
}>;

export function initialAccountState(): AccountState {
  return { exists: false, balance: 0, totalGranted: 0, totalDebited: 0, totalRefunded: 0 };
}

export function evolveAccount(state: AccountState, event: AccountEvent): AccountState {
  const { amount } = event.data;
  assert(Number.isSafeInteger(amount) && amount > 0, `${event.type}: amount ${amount} is not a positive safe integer`);
  const next = applyAmount(state, event, amount);
  assertAccountInvariants(next);
  return next;
}

function applyAmount(state: AccountState, event: AccountEvent, amount: number): AccountState {
  switch (event.type) {
    case 'CreditsGranted':
      return { ...state, exists: true, balance: state.balance + amount, totalGranted: state.totalGranted + amount };
    case 'Debited':
      return { ...state, balance: state.balance - amount, totalDebited: state.totalDebited + amount };
    case 'Refunded':
      return { ...state, balance: state.balance + amount, totalRefunded: state.totalRefunded + amount };
  }
}

/** I1 and the account's half of I2; a failure here is a bug in a decision, never bad input. */
function assertAccountInvariants(state: AccountState): void {
  const { balance, totalGranted, totalDebited, totalRefunded } = state;
  for (const [name, value] of Object.entries({ balance, totalGranted, totalDebited, totalRefunded })) {
    assert(Number.isSafeInteger(value), `account ${name} ${value} is not a safe integer`);
  }
  assert(balance >= 0, `account balance ${balance} is below zero`);
  assert(balance === totalGranted - totalDebited + totalRefunded, 'account balance does not match its totals');
  assert(totalRefunded <= totalDebited, `account refunded ${totalRefunded} more than it was debited ${totalDebited}`);
}
