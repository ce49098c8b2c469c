import type { DomainEvent } from '../event.js';
import { AMOUNT_MAX } from '../limits.js';
import { RULES, isId, isIntegerBetween, requireValid } from '../validation.js';

/**
 * An account's settings live on a stream of their own (`accountsettings-{id}`), so they
 * never touch the money stream's decisions, folds or projections.
 */

/** An operator set (or cleared, `null`) the balance under which `balance.low` is sent for the account. */
export type AccountSettingsChanged = DomainEvent<
  'AccountSettingsChanged',
  { accountId: string; lowBalanceThreshold: number | null }
>;
export type AccountSettingsEvent = AccountSettingsChanged;

export type ChangeAccountSettings = Readonly<{
  type: 'ChangeAccountSettings';
  accountId: string;
  lowBalanceThreshold: number | null;
  now: Date;
}>;

/** `lowBalanceThreshold` undefined: never set (the configured default applies). */
export type AccountSettingsState = Readonly<{ lowBalanceThreshold?: number | null }>;

export type AccountSettingsReply = Readonly<{ accountId: string; lowBalanceThreshold: number | null }>;
export type AccountSettingsDecision = Readonly<{
  accountSettings: readonly AccountSettingsEvent[];
  reply: AccountSettingsReply;
}>;

export function initialAccountSettingsState(): AccountSettingsState {
  return {};
}

export function evolveAccountSettings(_state: AccountSettingsState, event: AccountSettingsEvent): AccountSettingsState {
  return { lowBalanceThreshold: event.data.lowBalanceThreshold };
}

/** Setting what is set already appends nothing: the answer is the same either way. */
export function decideChangeAccountSettings(
  state: AccountSettingsState,
  command: ChangeAccountSettings,
): AccountSettingsDecision {
  const { accountId, lowBalanceThreshold } = command;
  requireValid([
    ['accountId', isId(accountId), RULES.id],
    [
      'lowBalanceThreshold',
      lowBalanceThreshold === null || isIntegerBetween(lowBalanceThreshold, 0, AMOUNT_MAX),
      `null or an integer from 0 to ${AMOUNT_MAX}`,
    ],
  ]);
  const reply = { accountId, lowBalanceThreshold };
  if (state.lowBalanceThreshold === lowBalanceThreshold) return { accountSettings: [], reply };
  return { accountSettings: [{ type: 'AccountSettingsChanged', data: { accountId, lowBalanceThreshold } }], reply };
}
