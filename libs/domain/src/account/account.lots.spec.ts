import type { GrantCredits } from './account.commands.js';
import type { AccountEvent, CreditsGranted, LotShare } from './account.events.js';
import { evolveAccount, initialAccountState, type StoredAccountEvent } from './account.state.js';
import { ACTIVE_LOTS_MAX } from '../limits.js';
import type { LedgerCommand, LedgerEvent } from '../ledger.js';
import { ACCOUNT_ID, PROJECT_ID, at, badFields, claimed, given, iso } from '../testing/ledger-fixtures.js';
import type { ProjectEvent } from '../project/project.events.js';

/** Lots in the spending order, refunds to their lots, expiry and void (API.md "Credit lots"). */

const lot = (grantId: string, amount: number, extra: Partial<CreditsGranted['data']> = {}): AccountEvent => ({
  type: 'CreditsGranted',
  data: { amount, source: 'purchase', grantId, category: 'paid', priority: 50, ...extra },
});
const promo = (grantId: string, amount: number, expiresInSeconds?: number): AccountEvent =>
  lot(grantId, amount, {
    source: 'promo',
    category: 'promotional',
    ...(expiresInSeconds === undefined ? {} : { expiresAt: iso(expiresInSeconds) }),
  });
const grant = (amount: number, extra: Partial<GrantCredits> = {}): LedgerCommand => ({
  type: 'GrantCredits',
  accountId: ACCOUNT_ID,
  amount,
  source: 'purchase',
  grantId: 'new',
  now: at(0),
  ...extra,
});
const debit = (amount: number, seconds = 0): LedgerCommand => ({
  type: 'DebitCredits',
  accountId: ACCOUNT_ID,
  amount,
  reason: 'fee',
  now: at(seconds),
});
const debitedFrom = (lots: LotShare[], projectId?: string): AccountEvent => {
  const amount = lots.reduce((sum, share) => sum + share.amount, 0);
  return {
    type: 'Debited',
    data:
      projectId === undefined
        ? { amount, reason: 'fee', lots }
        : { amount, projectId, reason: 'project_started', lots },
  };
};
const refundedTo = (lots: LotShare[], reason = 'project_failed'): AccountEvent => ({
  type: 'Refunded',
  data: { amount: lots.reduce((sum, share) => sum + share.amount, 0), projectId: PROJECT_ID, reason, lots },
});
const startedWith = (lots: LotShare[]): ProjectEvent => ({
  type: 'ProjectStarted',
  data: {
    accountId: ACCOUNT_ID,
    cost: lots.reduce((sum, share) => sum + share.amount, 0),
    deadlineAt: iso(3600),
    lots,
  },
});
const start = (cost: number, seconds = 0): LedgerCommand => ({
  type: 'StartProject',
  projectId: PROJECT_ID,
  accountId: ACCOUNT_ID,
  cost,
  now: at(seconds),
});
const cancel = (seconds: number): LedgerCommand => ({
  type: 'FailProject',
  projectId: PROJECT_ID,
  errorMessage: 'user cancelled',
  now: at(seconds),
});
const voidGrant = (grantId: string, seconds = 0): LedgerCommand => ({
  type: 'VoidGrant',
  accountId: ACCOUNT_ID,
  grantId,
  reason: 'chargeback',
  now: at(seconds),
});
const expireLot = (grantId: string, seconds: number): LedgerCommand => ({
  type: 'ExpireCredits',
  accountId: ACCOUNT_ID,
  grantId,
  now: at(seconds),
});
const failed: ProjectEvent = { type: 'ProjectFailed', data: { code: 'cancelled', errorMessage: 'user cancelled' } };

describe('GrantCredits as a lot', () => {
  it('names the lot, defaults a promo grant to promotional at priority 50, and keeps its expiry as an ISO instant', () => {
    const decision = given([])
      .when(grant(10, { source: 'promo', expiresAt: '2030-01-02T00:00:00+00:00' }))
      .then([lot('new', 10, { source: 'promo', category: 'promotional', expiresAt: '2030-01-02T00:00:00.000Z' })]);
    expect(decision.reply).toEqual({ accountId: ACCOUNT_ID, grantId: 'new', balance: 10 });
  });

  it('takes the category and priority given, 0 and 100 included', () => {
    given([])
      .when(grant(1, { category: 'promotional', priority: 0 }))
      .then([lot('new', 1, { category: 'promotional', priority: 0 })]);
    given([])
      .when(grant(1, { priority: 100 }))
      .then([lot('new', 1, { priority: 100 })]);
  });

  it('refuses a bad grantId, category, priority or expiry, naming each', () => {
    const violation = given([])
      .when(
        grant(1, {
          grantId: 'has space',
          category: 'gift' as 'paid',
          priority: 101,
          expiresAt: '2029-12-31T23:59:59Z',
        }),
      )
      .thenFails('validation_failed');
    expect(badFields(violation.details)).toEqual(['grantId', 'category', 'priority', 'expiresAt']);
  });

  it('takes an expiry up to ten years ahead and refuses one past it, or one at now', () => {
    given([])
      .when(grant(1, { expiresAt: '2040-01-01T00:00:00.000Z' }))
      .then([lot('new', 1, { expiresAt: '2040-01-01T00:00:00.000Z' })]);
    given([])
      .when(grant(1, { expiresAt: '2040-01-01T00:00:00.001Z' }))
      .thenFails('validation_failed');
    given([])
      .when(grant(1, { expiresAt: iso(0) }))
      .thenFails('validation_failed');
    given([])
      .when(grant(1, { expiresAt: 'tomorrow' }))
      .thenFails('validation_failed');
  });

  it('answers the same grantId with the same body as a repeat, and with another body already_exists', () => {
    const decision = given([lot('new', 10), debitedFrom([{ grantId: 'new', amount: 4 }])])
      .when(grant(10))
      .then([]);
    expect(decision.reply).toEqual({ accountId: ACCOUNT_ID, grantId: 'new', balance: 6 });
    given([lot('new', 10)])
      .when(grant(11))
      .thenFails('already_exists');
    given([lot('new', 10)])
      .when(grant(10, { priority: 1 }))
      .thenFails('already_exists');
  });

  it(`holds ${ACTIVE_LOTS_MAX} active lots and refuses one more, until one is spent`, () => {
    const full = Array.from({ length: ACTIVE_LOTS_MAX }, (_, i) => lot(`g${i}`, 1));
    given(full.slice(1))
      .when(grant(1))
      .then([lot('new', 1)]);
    const violation = given(full).when(grant(1)).thenFails('lots_limit_exceeded');
    expect(violation.details).toMatchObject({ activeLots: ACTIVE_LOTS_MAX, activeLotsMax: ACTIVE_LOTS_MAX });
    given([...full, debitedFrom([{ grantId: 'g0', amount: 1 }])])
      .when(grant(1))
      .then([lot('new', 1)]);
  });
});

describe('the spending order', () => {
  it('draws the lowest priority first, then the earliest expiry (never last), then promotional, then the oldest', () => {
    const history = [
      lot('paid-old', 5),
      promo('promo-late', 5, 7200),
      lot('paid-soon', 5, { expiresAt: iso(3600) }),
      promo('promo-never', 5),
      lot('urgent', 5, { priority: 10 }),
      lot('paid-new', 5),
    ];
    given(history)
      .when(debit(30))
      .then([
        debitedFrom([
          { grantId: 'urgent', amount: 5 },
          { grantId: 'paid-soon', amount: 5 },
          { grantId: 'promo-late', amount: 5 },
          { grantId: 'promo-never', amount: 5 },
          { grantId: 'paid-old', amount: 5 },
          { grantId: 'paid-new', amount: 5 },
        ]),
      ]);
  });

  it('with equal priorities and expiries, promotional before paid, then the oldest grant', () => {
    const history = [
      lot('paid-1', 3, { expiresAt: iso(60) }),
      promo('promo-1', 3, 60),
      lot('paid-2', 3, { expiresAt: iso(60) }),
      promo('promo-2', 3, 60),
    ];
    given(history)
      .when(debit(10))
      .then([
        debitedFrom([
          { grantId: 'promo-1', amount: 3 },
          { grantId: 'promo-2', amount: 3 },
          { grantId: 'paid-1', amount: 3 },
          { grantId: 'paid-2', amount: 1 },
        ]),
      ]);
  });

  it('never draws from a lot at or after its expiry, recorded or not: a start needing it is 402', () => {
    const history = [promo('promo', 50, 60), lot('paid', 50)];
    given(history)
      .when(debit(60, 59))
      .then([
        debitedFrom([
          { grantId: 'promo', amount: 50 },
          { grantId: 'paid', amount: 10 },
        ]),
      ]);
    const violation = given(history).when(start(60, 60)).thenFails('insufficient_credits');
    expect(violation.details).toEqual({ balance: 50, amount: 60 });
    const decision = given(history)
      .when(debit(50, 60))
      .then([debitedFrom([{ grantId: 'paid', amount: 50 }])]);
    expect(decision.reply).toMatchObject({ balance: 0 });
  });

  it('a start records the lots it drew on both the debit and the project', () => {
    const draws = [
      { grantId: 'promo', amount: 30 },
      { grantId: 'paid', amount: 20 },
    ];
    given([promo('promo', 30, 60), lot('paid', 50)])
      .when(start(50))
      .then([debitedFrom(draws, PROJECT_ID), startedWith(draws)]);
  });
});

describe('refunds go back to their lots, the last drawn first', () => {
  const draws = [
    { grantId: 'promo', amount: 30 },
    { grantId: 'paid', amount: 20 },
  ];
  const running = [promo('promo', 30, 60), lot('paid', 50), debitedFrom(draws, PROJECT_ID), startedWith(draws)];

  it('a cancel returns a refund split over two lots, the paid ones drawn last coming back first', () => {
    const decision = given(running)
      .when(cancel(10))
      .then([
        refundedTo([
          { grantId: 'paid', amount: 20 },
          { grantId: 'promo', amount: 30 },
        ]),
        failed,
      ]);
    expect(decision.reply).toEqual({ projectId: PROJECT_ID, status: 'failed', refunded: 50 });
  });

  it('a partial use returns the last drawn lot first', () => {
    const complete: LedgerCommand = {
      type: 'CompleteProject',
      projectId: PROJECT_ID,
      attempt: 1,
      creditsUsed: 25,
      now: at(20),
    };
    given([...running, claimed(1, 'w1', 30)])
      .when(complete)
      .then([
        refundedTo(
          [
            { grantId: 'paid', amount: 20 },
            { grantId: 'promo', amount: 5 },
          ],
          'partial_use',
        ),
        { type: 'ProjectCompleted', data: { attempt: 1, creditsUsed: 25 } },
      ]);
  });

  it('the part returned to a lot past its expiry expires again in the same step', () => {
    given(running)
      .when(cancel(60))
      .then([
        refundedTo([
          { grantId: 'paid', amount: 20 },
          { grantId: 'promo', amount: 30 },
        ]),
        { type: 'CreditsExpired', data: { grantId: 'promo', amount: 30 } },
        failed,
      ]);
  });

  it('a refund of a project started before lots returns by the spending order', () => {
    const history: LedgerEvent[] = [
      lot('paid', 50),
      { type: 'Debited', data: { amount: 40, projectId: PROJECT_ID, reason: 'project_started' } },
      { type: 'ProjectStarted', data: { accountId: ACCOUNT_ID, cost: 40, deadlineAt: iso(3600) } },
    ];
    given(history)
      .when(cancel(10))
      .then([refundedTo([{ grantId: 'paid', amount: 40 }]), failed]);
  });
});

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
        status: 'open',
      },
    ]);
  });
});
