import { RuleViolation } from '../rule-violation.js';
import { GRANT_SOURCES } from './account.events.js';
import type { AccountEvent } from './account.events.js';
import type { AccountCommand, DebitCredits, GrantCredits } from './account.commands.js';
import { evolveAccount, type AccountState } from './account.state.js';
import { TEXT_LENGTH_MAX } from '../limits.js';
import { RULES, isAmount, isId, isOptional, isText, requireValid } from '../validation.js';

/** What the HTTP response needs: `{accountId, balance}` after the decision's events. */
export type AccountReply = Readonly<{ accountId: string; balance: number }>;

export type AccountDecision = Readonly<{ account: readonly AccountEvent[]; reply: AccountReply }>;

export function decideGrantCredits(state: AccountState, command: GrantCredits): AccountDecision {
  requireValid([
    ['accountId', isId(command.accountId), RULES.id],
    ['amount', isAmount(command.amount), RULES.amount],
    ['source', (GRANT_SOURCES as readonly unknown[]).includes(command.source), `one of ${GRANT_SOURCES.join(', ')}`],
    [
      'reference',
      isOptional(command.reference, (v) => isText(v, TEXT_LENGTH_MAX)),
      `1 to ${TEXT_LENGTH_MAX} characters`,
    ],
  ]);
  // Bounding lifetime grants bounds the balance for good: every refund gives back part of
  // an earlier debit, so the balance can never exceed what was ever granted.
  if (command.amount > Number.MAX_SAFE_INTEGER - state.totalGranted) {
    throw new RuleViolation(
      'balance_limit_exceeded',
      'the grant would take the account past the largest exact balance',
      {
        totalGranted: state.totalGranted,
        amount: command.amount,
      },
    );
  }
  const { amount, source, reference } = command;
  const event: AccountEvent = {
    type: 'CreditsGranted',
    data: { amount, source, ...(reference === undefined ? {} : { reference }) },
  };
  return accountDecision(state, command.accountId, [event]);
}

export function decideDebitCredits(state: AccountState, command: DebitCredits): AccountDecision {
  requireValid([
    ['accountId', isId(command.accountId), RULES.id],
    ['amount', isAmount(command.amount), RULES.amount],
    ['reason', isText(command.reason, TEXT_LENGTH_MAX), `1 to ${TEXT_LENGTH_MAX} characters`],
  ]);
  requireDebitable(state, command.accountId, command.amount);
  const event: AccountEvent = { type: 'Debited', data: { amount: command.amount, reason: command.reason } };
  return accountDecision(state, command.accountId, [event]);
}

/**
 * The refusals every debit shares, a charge or a project start. An account that never got
 * a grant does not exist (API.md), so debiting it is `not_found` rather than
 * `insufficient_credits`: the caller most likely has the wrong id, and should be told so.
 */
export function requireDebitable(state: AccountState, accountId: string, amount: number): void {
  if (!state.exists) {
    throw new RuleViolation('not_found', `account ${accountId} does not exist`, { accountId });
  }
  if (state.balance < amount) {
    throw new RuleViolation(
      'insufficient_credits',
      `account ${accountId} has ${state.balance} credits, needs ${amount}`,
      {
        balance: state.balance,
        amount,
      },
    );
  }
  // Start/fail cycles grow the debit total without new grants; keep it exact too.
  if (amount > Number.MAX_SAFE_INTEGER - state.totalDebited) {
    throw new RuleViolation('balance_limit_exceeded', 'the debit would take the account past the largest exact total', {
      totalDebited: state.totalDebited,
      amount,
    });
  }
}

export function decideAccount(state: AccountState, command: AccountCommand): AccountDecision {
  switch (command.type) {
    case 'GrantCredits':
      return decideGrantCredits(state, command);
    case 'DebitCredits':
      return decideDebitCredits(state, command);
  }
}

function accountDecision(state: AccountState, accountId: string, events: readonly AccountEvent[]): AccountDecision {
  const next = events.reduce(evolveAccount, state);
  return { account: events, reply: { accountId, balance: next.balance } };
}
