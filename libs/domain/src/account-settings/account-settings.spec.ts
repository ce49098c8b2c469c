import { AMOUNT_MAX } from '../limits.js';
import { specification } from '../testing/specification.js';
import {
  decideChangeAccountSettings,
  evolveAccountSettings,
  initialAccountSettingsState,
  type AccountSettingsEvent,
  type ChangeAccountSettings,
} from './account-settings.js';

const given = specification({
  initialState: initialAccountSettingsState,
  evolve: evolveAccountSettings,
  decide: decideChangeAccountSettings,
  eventsOf: (decision) => decision.accountSettings,
});
const NOW = new Date('2026-01-01T00:00:00.000Z');
const change = (lowBalanceThreshold: number | null): ChangeAccountSettings => ({
  type: 'ChangeAccountSettings',
  accountId: 'acc-1',
  lowBalanceThreshold,
  now: NOW,
});
const set = (lowBalanceThreshold: number | null): AccountSettingsEvent => ({
  type: 'AccountSettingsChanged',
  data: { accountId: 'acc-1', lowBalanceThreshold },
});

describe('account settings decider', () => {
  it('sets, changes and clears the low-balance threshold; the same value again appends nothing', () => {
    given([])
      .when(change(100))
      .then([set(100)]);
    given([set(100)])
      .when(change(50))
      .then([set(50)]);
    given([set(100)])
      .when(change(null))
      .then([set(null)]);
    given([set(100)])
      .when(change(100))
      .then([]);
    given([])
      .when(change(0))
      .then([set(0)]);
    given([])
      .when(change(AMOUNT_MAX))
      .then([set(AMOUNT_MAX)]);
  });

  it('refuses a threshold that is negative, fractional or past the amount bound', () => {
    for (const bad of [-1, 1.5, AMOUNT_MAX + 1, Number.NaN]) given([]).when(change(bad)).thenFails('validation_failed');
  });
});
