import { inSpendingOrder } from './account.lots.js';
import { evolveAccount, initialAccountState } from './account.state.js';
import { ACTIVE_LOTS_MAX } from '../limits.js';
import type { LedgerCommand, LedgerEvent } from '../ledger.js';
import { ACCOUNT_ID, PROJECT_ID, at, badFields, claimed, given, iso } from '../testing/ledger-fixtures.js';
import {
  lot,
  promo,
  grant,
  debit,
  debitedFrom,
  refundedTo,
  startedWith,
  start,
  cancel,
  failed,
} from '../testing/lot-fixtures.js';

/** Lots as grants make them, the spending order, and refunds to their lots (API.md "Credit lots"). */

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
    // Without a zone, the server's local time would decide when it expires.
    given([])
      .when(grant(1, { expiresAt: '2030-06-01T00:00:00' }))
      .thenFails('validation_failed');
    given([])
      .when(grant(1, { expiresAt: '2030-06-01T02:00:00+02:00' }))
      .then([lot('new', 1, { expiresAt: '2030-06-01T00:00:00.000Z' })]);
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

  it('answers a retry of a grant as a repeat after its expiresAt has passed, not as a bad expiry', () => {
    const expiresAt = iso(60);
    const history = [promo('p', 10, 60)];
    const retry = grant(10, { grantId: 'p', source: 'promo', expiresAt, now: at(61) });
    const decision = given(history).when(retry).then([]);
    // The lot is past its expiry: nothing of it can be spent any more.
    expect(decision.reply).toEqual({ accountId: ACCOUNT_ID, grantId: 'p', balance: 0 });
    // The same instant written in another zone is the same body.
    given(history)
      .when({ ...retry, expiresAt: '2030-01-01T02:01:00+02:00' } as LedgerCommand)
      .then([]);
    // Another body is still judged as a new grant would be: an expiry in the past is 400.
    given(history)
      .when(grant(11, { grantId: 'p', source: 'promo', expiresAt, now: at(61) }))
      .thenFails('validation_failed');
    given(history)
      .when(grant(11, { grantId: 'p', source: 'promo', expiresAt: iso(120), now: at(61) }))
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

describe('inSpendingOrder', () => {
  it('sorts lots held in any order as the state keeps them', () => {
    const events = [
      lot('paid-old', 5),
      promo('promo-late', 5, 7200),
      lot('paid-soon', 5, { expiresAt: iso(3600) }),
      promo('promo-never', 5),
      lot('urgent', 5, { priority: 10 }),
    ];
    const state = events.reduce(evolveAccount, initialAccountState());
    const inGrantOrder = [...state.lots].sort((a, b) => a.seq - b.seq);
    const shuffled = [inGrantOrder[3]!, inGrantOrder[0]!, inGrantOrder[4]!, inGrantOrder[2]!, inGrantOrder[1]!];
    expect(inSpendingOrder(shuffled).map((l) => l.grantId)).toEqual(state.lots.map((l) => l.grantId));
    expect(state.lots.map((l) => l.grantId)).toEqual(['urgent', 'paid-soon', 'promo-late', 'promo-never', 'paid-old']);
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
    const lots = [{ grantId: 'paid', amount: 40 }];
    given(history)
      .when(cancel(10))
      .then([
        { type: 'Refunded', data: { amount: 40, projectId: PROJECT_ID, reason: 'project_failed', lots, legacy: true } },
        failed,
      ]);
  });
});
