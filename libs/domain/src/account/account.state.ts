import assert from 'node:assert';
import type { AccountEvent } from './account.events.js';
import { applyMoney, NO_MONEY, type AccountMoney } from './account.money.js';

/**
 * An account as its events leave it. All amounts are credits, kept as JS numbers and
 * asserted to be safe integers: the grant and debit decisions refuse anything that would
 * take a total past Number.MAX_SAFE_INTEGER, so the sums here are always exact.
 */
export type AccountState = AccountMoney &
  Readonly<{
    /** An account exists from its first grant (API.md). */
    exists: boolean;
  }>;

export function initialAccountState(): AccountState {
  return { exists: false, ...NO_MONEY };
}

export function evolveAccount(state: AccountState, event: AccountEvent): AccountState {
  const { amount } = event.data;
  assert(Number.isSafeInteger(amount) && amount > 0, `${event.type}: amount ${amount} is not a positive safe integer`);
  const next = applyMoney(state, event);
  const evolved = event.type === 'CreditsGranted' ? { ...next, exists: true } : next;
  assertAccountInvariants(evolved);
  return evolved;
}

/** I1 and the account's half of I2; a failure here is a bug in a decision, never bad input. */
function assertAccountInvariants(state: AccountState): void {
  const { balance, totalGranted, totalDebited, totalRefunded, totalExpired, totalVoided } = state;
  const totals = { balance, totalGranted, totalDebited, totalRefunded, totalExpired, totalVoided };
  for (const [name, value] of Object.entries(totals)) {
    assert(Number.isSafeInteger(value), `account ${name} ${value} is not a safe integer`);
  }
  assert(balance >= 0, `account balance ${balance} is below zero`);
  assert(
    balance === totalGranted - totalDebited + totalRefunded - totalExpired - totalVoided,
    'account balance does not match its totals',
  );
  assert(totalRefunded <= totalDebited, `account refunded ${totalRefunded} more than it was debited ${totalDebited}`);
}
