import fc from 'fast-check';
import type { AccountCommand } from './account.commands.js';
import { decideAccount, type AccountDecision } from './account.decide.js';
import type { AccountEvent, LotShare } from './account.events.js';
import { drawInOrder, lotCounts, lotsRemaining, spendableAt } from './account.lots.js';
import { refundEvents } from './account.refunds.js';
import { evolveAccount, initialAccountState, type AccountState, type StoredAccountEvent } from './account.state.js';
import { RuleViolation } from '../rule-violation.js';

/**
 * The account's state is cached and snapshotted as JSON (apps/ledger-api snapshot.store.ts),
 * and a snapshot is read back as plain JSON: the fold keeps its lots in a LotBook, which a
 * state read back builds from its `lots`. Such a state, whether a snapshot of today's fold or
 * one stored before the LotBook (the same JSON), must decide and fold exactly as the state
 * it was taken of.
 */

const T0_MS = Date.UTC(2030, 0, 1);
const at = (seconds: number) => new Date(T0_MS + seconds * 1000);

/** As SnapshotStore saves and loads it. */
const snapshotOf = (state: AccountState): AccountState => JSON.parse(JSON.stringify(state)) as AccountState;

type Outcome = { decision: AccountDecision } | { refused: string };

function decide(state: AccountState, command: AccountCommand): Outcome {
  try {
    return { decision: decideAccount(state, command) };
  } catch (error) {
    if (error instanceof RuleViolation) return { refused: error.code };
    throw error;
  }
}

/** Everything a decision reads of the lots, at `nowMs`. */
function reading(state: AccountState, nowMs: number) {
  let draw: LotShare[] | string;
  try {
    draw = drawInOrder(state, Math.min(state.balance, 150), nowMs);
  } catch {
    draw = 'short'; // past an expiry not yet recorded, the balance is more than can be spent
  }
  return {
    json: JSON.stringify(state),
    spendable: spendableAt(state, nowMs),
    counts: lotCounts(state),
    remaining: lotsRemaining(state),
    draw,
  };
}

type Step =
  | {
      kind: 'grant';
      amount: number;
      category: 'paid' | 'promotional' | undefined;
      priority: number | undefined;
      expiresIn: number | undefined;
    }
  | { kind: 'debit'; amount: number }
  | { kind: 'refund'; debit: number; amount: number }
  | { kind: 'void'; lot: number }
  | { kind: 'sweep'; lot: number }
  | { kind: 'tick'; seconds: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('grant' as const),
      amount: fc.integer({ min: 1, max: 200 }),
      category: fc.constantFrom(undefined, 'paid' as const, 'promotional' as const),
      priority: fc.constantFrom(undefined, 0, 50, 100),
      expiresIn: fc.constantFrom(undefined, undefined, 1, 30, 600),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('debit' as const), amount: fc.integer({ min: 1, max: 250 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('refund' as const),
      debit: fc.nat(20),
      amount: fc.integer({ min: 1, max: 100 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('void' as const), lot: fc.nat(20) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('sweep' as const), lot: fc.nat(20) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('tick' as const), seconds: fc.integer({ min: 1, max: 90 }) }) },
);

/** Written before lots: grants named after their event ids, debits and a refund without lots. */
const BEFORE_LOTS: StoredAccountEvent[] = [
  { id: 'e-1', type: 'CreditsGranted', data: { amount: 100, source: 'purchase' } },
  { id: 'e-2', type: 'CreditsGranted', data: { amount: 50, source: 'promo' } },
  { type: 'Debited', data: { amount: 120, reason: 'fee' } },
  { type: 'Refunded', data: { amount: 30, projectId: 'old', reason: 'project_failed' } },
];

describe('an account state read back from its snapshot (plain JSON)', () => {
  it('decides and folds as the state it was taken of, at every step of random histories', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(step, { minLength: 1, maxLength: 60 }), (beforeLots, steps) => {
        let live = (beforeLots ? BEFORE_LOTS : []).reduce(evolveAccount, initialAccountState());
        // Restored from a snapshot once, then folded on: the book it built is the one it keeps.
        let restored = snapshotOf(live);
        let seconds = 0;
        const grants: string[] = beforeLots ? ['e-1', 'e-2'] : [];
        const debits: { lots: readonly LotShare[]; refunded: number }[] = [];
        for (const [index, s] of steps.entries()) {
          const now = at(seconds);
          // A fresh snapshot of the live state reads as the live state and as the one restored long ago.
          const fresh = snapshotOf(live);
          const expected = reading(live, now.getTime());
          expect(reading(fresh, now.getTime())).toEqual(expected);
          expect(reading(restored, now.getTime())).toEqual(expected);
          let events: AccountEvent[] = [];
          const command = commandOf(s, index, now, grants);
          if (command !== undefined) {
            const outcome = decide(live, command);
            expect(decide(fresh, command)).toEqual(outcome);
            expect(decide(restored, command)).toEqual(outcome);
            if ('decision' in outcome) events = [...outcome.decision.account];
            if (command.type === 'GrantCredits' && events.length > 0) grants.push(command.grantId);
            for (const event of events) {
              if (event.type === 'Debited') debits.push({ lots: event.data.lots!, refunded: 0 });
            }
          } else if (s.kind === 'refund' && debits.length > 0) {
            const debit = debits[s.debit % debits.length]!;
            const drawn = debit.lots.reduce((sum, share) => sum + share.amount, 0);
            const amount = Math.min(s.amount, drawn - debit.refunded);
            const refund = {
              projectId: `p${index}`,
              amount,
              reason: 'project_failed',
              alreadyRefunded: debit.refunded,
              now,
            };
            events = refundEvents(live, refund, debit.lots);
            expect(refundEvents(restored, refund, debit.lots)).toEqual(events);
            debit.refunded += amount;
          } else if (s.kind === 'tick') seconds += s.seconds;
          live = events.reduce(evolveAccount, live);
          restored = events.reduce(evolveAccount, restored);
        }
        expect(reading(restored, at(seconds).getTime())).toEqual(reading(live, at(seconds).getTime()));
      }),
      { numRuns: 200 },
    );
  });

  it('reads a snapshot stored before the LotBook, in the JSON the fold wrote then, as a refold of its events', () => {
    const events: StoredAccountEvent[] = [
      ...BEFORE_LOTS,
      {
        type: 'CreditsGranted',
        data: {
          amount: 40,
          source: 'promo',
          grantId: 'promo',
          category: 'promotional',
          priority: 50,
          expiresAt: '2030-01-01T00:01:00.000Z',
        },
      },
      {
        type: 'CreditsGranted',
        data: { amount: 10, source: 'purchase', grantId: 'first', category: 'paid', priority: 0 },
      },
      {
        type: 'Debited',
        data: {
          amount: 15,
          reason: 'fee',
          lots: [
            { grantId: 'first', amount: 10 },
            { grantId: 'promo', amount: 5 },
          ],
        },
      },
    ];
    // What ACCOUNT_FOLD version 4 stored for these events before the LotBook (printed by that
    // code): a plain object, its lots in the spending order.
    const stored = JSON.parse(
      '{"exists":true,"balance":95,"totalGranted":200,"totalDebited":135,"totalRefunded":30,"totalExpired":0,"totalVoided":0,"lots":[{"grantId":"first","seq":3,"category":"paid","priority":0,"source":"purchase","granted":10,"remaining":0,"outstanding":10,"status":"open"},{"grantId":"promo","seq":2,"category":"promotional","priority":50,"expiresAt":"2030-01-01T00:01:00.000Z","source":"promo","granted":40,"remaining":35,"outstanding":5,"status":"open"},{"grantId":"e-1","seq":0,"category":"paid","priority":50,"source":"purchase","granted":100,"remaining":30,"outstanding":70,"status":"open","legacyLent":70},{"grantId":"e-2","seq":1,"category":"paid","priority":50,"source":"promo","granted":50,"remaining":30,"outstanding":20,"status":"open","legacyLent":20}]}',
    ) as AccountState;
    const refolded = events.reduce(evolveAccount, initialAccountState());
    expect(JSON.parse(JSON.stringify(refolded))).toEqual(stored);
    for (const seconds of [0, 60]) {
      expect(reading(stored, at(seconds).getTime())).toEqual(reading(refolded, at(seconds).getTime()));
      const debit: AccountCommand = {
        type: 'DebitCredits',
        accountId: 'a',
        amount: 20,
        reason: 'fee',
        now: at(seconds),
      };
      expect(decide(stored, debit)).toEqual(decide(refolded, debit));
    }
    const legacyRefund = { projectId: 'old2', amount: 60, reason: 'project_failed', alreadyRefunded: 0, now: at(0) };
    expect(refundEvents(stored, legacyRefund, undefined)).toEqual(refundEvents(refolded, legacyRefund, undefined));
    const next: StoredAccountEvent = {
      type: 'Refunded',
      data: { amount: 60, projectId: 'old2', reason: 'project_failed' },
    };
    expect(JSON.stringify(evolveAccount(stored, next))).toBe(JSON.stringify(evolveAccount(refolded, next)));
  });
});

function commandOf(s: Step, index: number, now: Date, grants: readonly string[]): AccountCommand | undefined {
  const accountId = 'a';
  switch (s.kind) {
    case 'grant':
      return {
        type: 'GrantCredits',
        accountId,
        amount: s.amount,
        source: s.category === 'promotional' ? 'promo' : 'purchase',
        grantId: `g${index}`,
        ...(s.category === undefined ? {} : { category: s.category }),
        ...(s.priority === undefined ? {} : { priority: s.priority }),
        ...(s.expiresIn === undefined ? {} : { expiresAt: new Date(now.getTime() + s.expiresIn * 1000).toISOString() }),
        now,
      };
    case 'debit':
      return { type: 'DebitCredits', accountId, amount: s.amount, reason: 'fee', now };
    case 'void':
      return grants.length === 0
        ? undefined
        : { type: 'VoidGrant', accountId, grantId: grants[s.lot % grants.length]!, reason: 'fraud', now };
    case 'sweep':
      return grants.length === 0
        ? undefined
        : { type: 'ExpireCredits', accountId, grantId: grants[s.lot % grants.length]!, now };
    default:
      return undefined;
  }
}
