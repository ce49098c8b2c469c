import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createTestDatabase } from '@ledger/test-support';
import type { AppendResult, StreamAppend } from '../event-store.port.js';
import { VersionConflictError } from '../errors.js';
import { PostgresEventStore } from './postgres-event-store.js';
import { connectPostgresForTesting, event } from '../testing/index.js';

/**
 * The expected-revision rule lives in one SQL function, event_store.expectation_met
 * (migration 0005); every append path asks it, and it costs nothing (it is inlined).
 */
describe('the append rule (event_store.expectation_met)', () => {
  let connectionString: string;
  let store: PostgresEventStore;
  let client: pg.Client;
  beforeAll(async () => {
    connectionString = await createTestDatabase('es_rule');
    store = await PostgresEventStore.connect({ connectionString, grouping: false });
    client = new pg.Client({ connectionString });
    await client.connect();
  });
  afterAll(async () => {
    await client.end();
    await store.close();
  });

  it.each([
    ['any', null, true],
    ['any', 3, true],
    ['no_stream', null, true],
    ['no_stream', 0, false],
    ['stream_exists', null, false],
    ['stream_exists', 0, true],
    ['3', 3, true],
    ['3', 4, false],
    ['3', null, false],
    ['-1', null, false],
  ])('expected %s against actual %s: %s', async (expected, actual, met) => {
    const { rows } = await client.query('SELECT event_store.expectation_met($1, $2::bigint) AS met', [
      expected,
      actual,
    ]);
    expect(rows[0].met).toBe(met);
  });

  it('is inlined where it is called: the plan has the CASE, not a function call', async () => {
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(
      // A column for `expected` too: with a constant the planner folds the CASE away as well.
      'EXPLAIN (VERBOSE, COSTS OFF) SELECT event_store.expectation_met(t.stream_name, t.revision) FROM event_store.streams t',
    );
    const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
    expect(plan).toContain('CASE');
    expect(plan).not.toContain('expectation_met');
  });

  it('is spelt out nowhere else: no other function of the event store names an expectation', async () => {
    const { rows } = await client.query<{ proname: string }>(
      `SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
       WHERE n.nspname = 'event_store' AND p.prosrc LIKE '%''stream_exists''%' ORDER BY 1`,
    );
    expect(rows.map((r) => r.proname)).toEqual(['expectation_met']);
  });

  // A lone append whose stream another transaction is creating: its update finds no
  // row, its insert waits for that transaction, and the rule then decides on the new row.
  it.each([
    ['any', { nextRevision: 1n }],
    ['no_stream', { conflictActual: 0n }],
  ] as const)('decides %s on a stream created while it waited', async (expected, outcome) => {
    const stream = `rule-${randomUUID()}`;
    let signalHeld!: () => void;
    const held = new Promise<void>((resolve) => (signalHeld = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const holder = await connectPostgresForTesting(
      { connectionString },
      {
        beforeCommit: async () => {
          signalHeld();
          await released;
        },
      },
    );
    try {
      const creating = holder.append([{ streamName: stream, expectedRevision: 'no_stream', events: [event()] }]);
      await held;
      const second: StreamAppend = { streamName: stream, expectedRevision: expected, events: [event()] };
      const waiting = store.append([second]).then(
        (result) => ({ result }),
        (error: unknown) => ({ error }),
      );
      await someoneWaitsOnALock(client);
      release();
      await creating;
      const answer = await waiting;
      if ('conflictActual' in outcome) {
        expect('error' in answer && answer.error).toBeInstanceOf(VersionConflictError);
        const conflict = (answer as { error: VersionConflictError }).error;
        expect(conflict.conflicts).toEqual([{ streamName: stream, expected, actual: outcome.conflictActual }]);
      } else {
        const { result } = answer as { result: AppendResult };
        expect(result.streams).toEqual([
          { streamName: stream, nextRevision: outcome.nextRevision, lastPosition: result.position },
        ]);
      }
    } finally {
      release();
      await holder.close();
    }
  });
});

/** Until some session of this database waits on a lock. */
async function someoneWaitsOnALock(client: pg.Client): Promise<void> {
  for (;;) {
    const { rows } = await client.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
    );
    if (rows[0].n > 0) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
