import type { AccountEvent } from './account.events.js';
import { evolveAccount, initialAccountState, type StoredAccountEvent } from './account.state.js';
import { ACCOUNT_ID, PROJECT_ID, given } from '../testing/ledger-fixtures.js';
import {
  lot,
  promo,
  debitedFrom,
  refundedTo,
  startedWith,
  cancel,
  voidGrant,
  expireLot,
  failed,
} from '../testing/lot-fixtures.js';

/** Voids, the expiry sweep's decision, and events written before lots (API.md "Credit lots", DESIGN.md). */

describe('VoidGrant', () => {
  it('removes what remains of the lot', () => {
    const decision = given([lot('a', 10), lot('b', 5), debitedFrom([{ grantId: 'a', amount: 4 }])])
      .when(voidGrant('a'))
      .then([{ type: 'GrantVoided', data: { grantId: 'a', amount: 6, reason: 'chargeback' } }]);
    expect(decision.reply).toEqual({ accountId: ACCOUNT_ID, grantId: 'a', voided: 6, balance: 5 });
  });

  it('leaves credits a running project holds with it; refunded, they come back voided', () => {
    const draws = [{ grantId: 'a', amount: 10 }];
    const running = [lot('a', 10), debitedFrom(draws, PROJECT_ID), startedWith(draws)];
    given(running)
      .when(voidGrant('a'))
      .then([{ type: 'GrantVoided', data: { grantId: 'a', amount: 0, reason: 'chargeback' } }]);
    const voided: AccountEvent = { type: 'GrantVoided', data: { grantId: 'a', amount: 0, reason: 'chargeback' } };
    const decision = given([...running, voided])
      .when(cancel(5))
      .then([
        refundedTo(draws),
        { type: 'GrantVoided', data: { grantId: 'a', amount: 10, reason: 'refunded_to_voided_lot' } },
        failed,
      ]);
    expect(decision.reply).toMatchObject({ refunded: 10 });
  });

  it('refuses a lot already voided or expired (recorded or not) as invalid_transition, an unknown one as not_found', () => {
    const voided: AccountEvent = { type: 'GrantVoided', data: { grantId: 'a', amount: 10, reason: 'x' } };
    given([lot('a', 10), voided])
      .when(voidGrant('a'))
      .thenFails('invalid_transition');
    given([promo('p', 10, 60)])
      .when(voidGrant('p', 60))
      .thenFails('invalid_transition');
    given([promo('p', 10, 60), { type: 'CreditsExpired', data: { grantId: 'p', amount: 10 } }])
      .when(voidGrant('p', 61))
      .thenFails('invalid_transition');
    given([lot('a', 10)])
      .when(voidGrant('b'))
      .thenFails('not_found');
  });
});

describe('ExpireCredits (the sweep)', () => {
  it('records what remains of a lot from its expiry on, and nothing before or after that', () => {
    const history = [promo('p', 10, 60), debitedFrom([{ grantId: 'p', amount: 3 }])];
    given(history).when(expireLot('p', 59)).then([]);
    const decision = given(history)
      .when(expireLot('p', 60))
      .then([{ type: 'CreditsExpired', data: { grantId: 'p', amount: 7 } }]);
    expect(decision.reply).toEqual({ accountId: ACCOUNT_ID, grantId: 'p', expired: 7, balance: 0 });
    given([...history, { type: 'CreditsExpired', data: { grantId: 'p', amount: 7 } }])
      .when(expireLot('p', 61))
      .then([]);
    given(history).when(expireLot('unknown', 61)).then([]);
  });
});

describe('events written before lots', () => {
  it('fold as DESIGN.md says: a paid lot that never expires named after its event, drawn and returned by the order', () => {
    const events: StoredAccountEvent[] = [
      { id: 'evt-1', type: 'CreditsGranted', data: { amount: 30, source: 'purchase' } },
      { id: 'evt-2', type: 'CreditsGranted', data: { amount: 20, source: 'promo' } },
      { id: 'evt-3', type: 'Debited', data: { amount: 40, projectId: 'p0', reason: 'project_started' } },
      { id: 'evt-4', type: 'Refunded', data: { amount: 15, projectId: 'p0', reason: 'project_failed' } },
    ];
    const state = events.reduce(evolveAccount, initialAccountState());
    expect(state.balance).toBe(25);
    expect(state.lots).toEqual([
      {
        grantId: 'evt-1',
        seq: 0,
        category: 'paid',
        priority: 50,
        source: 'purchase',
        granted: 30,
        remaining: 15,
        outstanding: 15,
        legacyLent: 15,
        status: 'open',
      },
      {
        grantId: 'evt-2',
        seq: 1,
        category: 'paid',
        priority: 50,
        source: 'promo',
        granted: 20,
        remaining: 10,
        outstanding: 10,
        legacyLent: 10,
        status: 'open',
      },
    ]);
  });
});
