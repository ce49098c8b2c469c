import type { StoredEvent } from '@ledger/event-store';
import { InvariantChecker } from './invariant-checker.js';
import { LotAudit } from './lot-audit.js';
import type { StoredFinding, StreamRecord } from './reconciliation.tables.js';
import { compareStreams, foldBatch, keyOf, type AccountStreamState, type RowsSnapshot } from './stream-fold.js';

type Entry = [streamName: string, type: string, data: Record<string, unknown>];

/** A log written by hand: each event takes the next position. */
function log(...entries: Entry[]): StoredEvent[] {
  return entries.map(([streamName, type, data], i) => ({
    id: `00000000-0000-4000-8000-${String(i + 1).padStart(12, '0')}`,
    streamName,
    type,
    data,
    metadata: {},
    revision: 0n,
    position: BigInt(i + 1),
    createdAt: new Date('2030-01-01T00:00:00.000Z'),
  }));
}

const grant = (account: string, amount: number): Entry => [
  `account-${account}`,
  'CreditsGranted',
  { amount, source: 'purchase', grantId: `g-${account}`, category: 'paid' },
];
const debit = (account: string, amount: number, projectId: string): Entry => [
  `account-${account}`,
  'Debited',
  { amount, projectId, reason: 'project_started' },
];
const refund = (account: string, amount: number, projectId: string, reason = 'project_failed'): Entry => [
  `account-${account}`,
  'Refunded',
  { amount, projectId, reason },
];
const start = (projectId: string, account: string, cost: number): Entry => [
  `project-${projectId}`,
  'ProjectStarted',
  { accountId: account, cost, deadlineAt: '2030-01-01T01:00:00.000Z' },
];
const fail = (projectId: string): Entry => [`project-${projectId}`, 'ProjectFailed', { reason: 'x' }];
const complete = (projectId: string, creditsUsed: number): Entry => [
  `project-${projectId}`,
  'ProjectCompleted',
  { attempt: 1, creditsUsed },
];

// Good and bad: p1 failed and refunded twice (I2), p2 refunded while running (I2, cleared when it
// ends and is owed it), p3 completed then failed (I3), p4 failed and never refunded (I4).
const LOG = log(
  grant('a', 1000),
  grant('b', 1000),
  debit('a', 100, 'p1'),
  start('p1', 'a', 100),
  fail('p1'),
  refund('a', 100, 'p1'),
  refund('a', 100, 'p1'),
  debit('b', 50, 'p2'),
  start('p2', 'b', 50),
  refund('b', 20, 'p2', 'partial'),
  debit('a', 10, 'p3'),
  start('p3', 'a', 10),
  complete('p3', 10),
  fail('p3'),
  debit('b', 30, 'p4'),
  start('p4', 'b', 30),
  complete('p2', 30),
  fail('p4'),
);

/** Folds `events` in batches of `size`, keeping each stream's state as JSON between them, as the checker does. */
function foldInBatches(events: readonly StoredEvent[], size: number) {
  const kept = new Map<string, StreamRecord>();
  const logged: StoredFinding[] = [];
  const stated = new Map<string, StoredFinding[]>();
  for (let i = 0; i < events.length; i += size) {
    const batch = events.slice(i, i + size);
    const loaded = [...kept.values()].map((record) => ({ ...record, state: JSON.parse(JSON.stringify(record.state)) }));
    const result = foldBatch(loaded, batch);
    logged.push(...result.logged);
    for (const stream of result.streams) {
      const key = keyOf([stream.kind, stream.id]);
      kept.set(key, { ...stream, position: stream.position });
      stated.set(key, []);
    }
    for (const finding of result.stated) stated.get(keyOf([finding.streamKind, finding.streamId]))!.push(finding);
  }
  const messages = [...logged, ...[...stated.values()].flat()].map((f) =>
    f.finding.kind === 'violation' ? f.finding.body.message : '',
  );
  return { kept, messages: messages.sort() };
}

describe('the continuous fold', () => {
  // What the whole-log check (reconciliation.service.ts) finds: the invariants and the lots audit.
  const whole = (() => {
    const checker = new InvariantChecker(Number.POSITIVE_INFINITY);
    const lots: string[] = [];
    const audit = new LotAudit(2n ** 62n, (violation) => lots.push(violation.message));
    LOG.forEach((event) => {
      checker.feed(event);
      audit.feed(event);
    });
    return [...checker.finish().violations.map((v) => v.message), ...lots];
  })();

  it('finds some of each kind in the whole log (the fixture is not clean)', () => {
    expect(whole.length).toBeGreaterThanOrEqual(3);
  });

  it.each([1, 2, 3, 5, LOG.length])(
    'folded in batches of %i with its state kept as JSON, finds what one pass over the whole log finds',
    (size) => {
      expect(foldInBatches(LOG, size).messages).toEqual([...whole].sort());
    },
  );

  it("keeps each account's money as the log sums it", () => {
    const { kept } = foldInBatches(LOG, 4);
    const a = kept.get(keyOf(['account', 'a']))!.state as AccountStreamState;
    expect(a.money).toMatchObject({ totalGranted: 1000, totalDebited: 110, totalRefunded: 200, balance: 1090 });
    expect(kept.get(keyOf(['account', 'a']))!.position).toBe(11n);
  });
});

describe('comparing a stream with its rows', () => {
  const { kept } = foldInBatches(LOG.slice(0, 2), 2);
  const account = kept.get(keyOf(['account', 'a']))!;
  const money = (account.state as AccountStreamState).money!;
  const lot = { grantId: 'g-a', category: 'paid', granted: 1000, remaining: 1000, status: 'active' };
  const rows = (position: bigint, checkpoint: bigint, balance = money.balance): RowsSnapshot => ({
    checkpoints: { accounts: checkpoint, projects: checkpoint, lots: checkpoint },
    accounts: new Map([['a', { row: { ...money, balance }, position }]]),
    projects: new Map(),
    lots: new Map([['a', [{ row: lot as never, position }]]]),
  });

  it('compares when the read models have reached the fold and no row is past the checker', () => {
    expect(compareStreams([account], rows(1n, 2n), 2n)).toEqual({
      compared: [['account', 'a']],
      waiting: [],
      findings: [],
    });
  });

  it('reports a row that differs, with the I1 its totals then break', () => {
    const { findings } = compareStreams([account], rows(1n, 2n, money.balance + 1), 2n);
    expect(findings.map((f) => [f.finding.kind, f.finding.body])).toEqual([
      ['mismatch', { accountId: 'a', field: 'balance', projected: 1001, folded: 1000 }],
      ['violation', expect.objectContaining({ invariant: 'I1', id: 'a' })],
      ['violation', expect.objectContaining({ invariant: 'I7', id: 'a' })],
    ]);
  });

  it('waits while the read models are behind the fold (no mismatch for a lagging projector)', () => {
    expect(compareStreams([account], { ...rows(0n, 0n, 0), accounts: new Map() }, 2n)).toEqual({
      compared: [],
      waiting: [['account', 'a']],
      findings: [],
    });
  });

  it('leaves a stream whose row is past the checker for when it folds that event', () => {
    expect(compareStreams([account], rows(5n, 5n, 7), 2n)).toEqual({ compared: [], waiting: [], findings: [] });
  });
});
