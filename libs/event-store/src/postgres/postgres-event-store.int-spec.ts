import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createTestDatabase } from '@ledger/test-support';
import type { StoredEvent, StreamAppend } from '../event-store.port.js';
import { InvalidAppendError, StoreUnavailableError, VersionConflictError } from '../errors.js';
import { PostgresEventStore } from './postgres-event-store.js';
import { HELD_POLL_GAP_MS, TAIL_WINDOW_MAX, type GapProtection, type LogRead } from './postgres-subscription.js';
import {
  assertOrderedOnce,
  collectUntil,
  connectPostgresForTesting,
  event,
  eventStoreContract,
} from '../testing/index.js';

// The whole contract twice: with group commit (the default) and with every append alone.
describe.each([
  { title: 'PostgresEventStore contract', database: 'es_contract', prefix: 'contract-', grouping: undefined },
  {
    title: 'PostgresEventStore contract, every append alone (no group commit)',
    database: 'es_contract_alone',
    prefix: 'alone-',
    grouping: false as const,
  },
])('$title', ({ database, prefix, grouping }) => {
  let connectionString: string;
  beforeAll(async () => {
    connectionString = await createTestDatabase(database);
  });
  eventStoreContract({
    streamPrefix: prefix,
    create: (options) =>
      PostgresEventStore.connect({
        connectionString,
        poolSize: options?.poolSize ?? 10,
        ...(grouping === undefined ? {} : { grouping }),
      }),
  });
});

/**
 * Group commit: appends made while others run go in one statement and one
 * commit, yet each keeps its own answer, exactly as if it had gone alone.
 */
describe('PostgresEventStore group commit', () => {
  let connectionString: string;
  let store: PostgresEventStore;
  const groups: { size: number; outcome: string }[] = [];
  beforeAll(async () => {
    connectionString = await createTestDatabase('es_group');
    store = await PostgresEventStore.connect({
      connectionString,
      grouping: { maxInFlight: 1, maxGroup: 500 },
      onAppendGroup: (size, outcome) => groups.push({ size, outcome }),
    });
  });
  afterAll(async () => {
    await store.close();
  });
  beforeEach(() => {
    groups.length = 0;
  });

  it('commits concurrent appends together, each at its own revisions and positions', async () => {
    const prefix = `group-${randomUUID()}`;
    const appends = Array.from({ length: 100 }, (_, i) => [
      { streamName: `${prefix}-${i % 10}`, expectedRevision: 'any' as const, events: [event(), event()] },
      { streamName: `${prefix}-own-${i}`, expectedRevision: 'no_stream' as const, events: [event()] },
    ]);
    const results = await Promise.all(appends.map((a) => store.append(a)));
    expect(groups.some((g) => g.size > 1 && g.outcome === 'together')).toBe(true);
    expect(groups.every((g) => g.outcome === 'together')).toBe(true);
    const positions = results.map((r) => r.position);
    expect(new Set(positions).size).toBe(100);
    // Positions follow the order the appends were made in.
    expect([...positions].sort((a, b) => (a < b ? -1 : 1))).toEqual(positions);
    for (let i = 0; i < 10; i++) {
      const stored = await store.readStream(`${prefix}-${i}`);
      expect(stored.map((e) => e.revision)).toEqual(Array.from({ length: 20 }, (_, r) => BigInt(r)));
    }
    results.forEach((result, i) => {
      const shared = result.streams.find((s) => s.streamName === `${prefix}-${i % 10}`)!;
      expect(shared.nextRevision).toBe(BigInt(2 * Math.floor(i / 10) + 1));
      expect(result.streams.find((s) => s.streamName === `${prefix}-own-${i}`)!.nextRevision).toBe(0n);
    });
  });

  it("answers each stream's last position, grouped (shared and disjoint streams), alone and replayed", async () => {
    const prefix = `group-last-${randomUUID()}`;
    const shared = Array.from({ length: 20 }, (_, i) => [
      { streamName: `${prefix}-shared-${i % 4}`, expectedRevision: 'any' as const, events: [event(), event()] },
      { streamName: `${prefix}-a-${i}`, expectedRevision: 'no_stream' as const, events: [event()] },
    ]);
    const disjoint = Array.from({ length: 20 }, (_, i) => [
      { streamName: `${prefix}-b-${i}`, expectedRevision: 'no_stream' as const, events: [event(), event(), event()] },
      { streamName: `${prefix}-c-${i}`, expectedRevision: 'no_stream' as const, events: [event()] },
    ]);
    const results = await Promise.all([...shared, ...disjoint].map((a) => store.append(a)));
    expect(groups.some((g) => g.size > 1 && g.outcome === 'together')).toBe(true);
    const alone = [
      { streamName: `${prefix}-d`, expectedRevision: 'no_stream' as const, events: [event(), event()] },
      { streamName: `${prefix}-e`, expectedRevision: 'no_stream' as const, events: [event()] },
    ];
    results.push(await store.append(alone));
    for (const result of results) {
      let greatest = 0n;
      for (const appended of result.streams) {
        const [last] = await store.readStream(appended.streamName, { fromRevision: appended.nextRevision, limit: 1 });
        expect(appended.lastPosition).toBe(last!.position);
        if (last!.position > greatest) greatest = last!.position;
      }
      expect(result.position).toBe(greatest);
    }
    // A replay answers as the first time, stream by stream.
    await expect(store.append(alone)).resolves.toEqual(results[results.length - 1]);
  });

  it('gives a conflict to each loser of a race on one revision and writes none of its events', async () => {
    const stream = `group-race-${randomUUID()}`;
    await store.append([{ streamName: stream, expectedRevision: 'no_stream', events: [event()] }]);
    const contenders = Array.from({ length: 30 }, (_, i) => [
      { streamName: stream, expectedRevision: 0n, events: [event()] },
      { streamName: `${stream}-side-${i}`, expectedRevision: 'no_stream' as const, events: [event()] },
    ]);
    const settled = await Promise.allSettled(contenders.map((c) => store.append(c)));
    expect(groups.some((g) => g.size > 1 && g.outcome === 'together')).toBe(true);
    const won = settled.filter((s) => s.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const lost of settled.filter((s) => s.status === 'rejected')) {
      expect(lost.reason).toBeInstanceOf(VersionConflictError);
      expect((lost.reason as VersionConflictError).conflicts).toEqual([
        { streamName: stream, expected: '0', actual: 1n },
      ]);
    }
    expect(await store.readStream(stream)).toHaveLength(2);
    const sides = await Promise.all(contenders.map((c) => store.readStream(c[1]!.streamName)));
    expect(sides.filter((events) => events.length === 1)).toHaveLength(1);
  });

  it('decides every expectation of a group of distinct streams on its own (the set-based path)', async () => {
    const p = `group-disjoint-${randomUUID()}`;
    // Streams that exist with revision 1 before the group.
    const existing = ['exact', 'stale', 'exists', 'any-old', 'no-stream-old'].map((n) => `${p}-${n}`);
    await Promise.all(
      existing.map((stream) =>
        store.append([{ streamName: stream, expectedRevision: 'no_stream', events: [event(), event()] }]),
      ),
    );
    const cases: { append: StreamAppend[]; ok: boolean }[] = [
      { append: [{ streamName: `${p}-exact`, expectedRevision: 1n, events: [event()] }], ok: true },
      { append: [{ streamName: `${p}-stale`, expectedRevision: 0n, events: [event()] }], ok: false },
      { append: [{ streamName: `${p}-exists`, expectedRevision: 'stream_exists', events: [event()] }], ok: true },
      { append: [{ streamName: `${p}-missing`, expectedRevision: 'stream_exists', events: [event()] }], ok: false },
      { append: [{ streamName: `${p}-any-old`, expectedRevision: 'any', events: [event(), event()] }], ok: true },
      { append: [{ streamName: `${p}-any-new`, expectedRevision: 'any', events: [event()] }], ok: true },
      { append: [{ streamName: `${p}-no-stream-old`, expectedRevision: 'no_stream', events: [event()] }], ok: false },
      // Two streams, one expectation failing: neither is written.
      {
        append: [
          { streamName: `${p}-pair-new`, expectedRevision: 'no_stream', events: [event()] },
          { streamName: `${p}-missing-2`, expectedRevision: 3n, events: [event()] },
        ],
        ok: false,
      },
      {
        append: [
          { streamName: `${p}-new`, expectedRevision: 'no_stream', events: [event(), event(), event()] },
          { streamName: `${p}-new-2`, expectedRevision: 'no_stream', events: [event()] },
        ],
        ok: true,
      },
    ];
    groups.length = 0;
    const settled = await Promise.allSettled(cases.map((c) => store.append(c.append)));
    expect(groups).toEqual([{ size: cases.length, outcome: 'together' }]);
    expect(settled.map((r) => r.status === 'fulfilled')).toEqual(cases.map((c) => c.ok));
    const conflictOf = (i: number) => (settled[i] as PromiseRejectedResult).reason as VersionConflictError;
    expect(conflictOf(1).conflicts).toEqual([{ streamName: `${p}-stale`, expected: '0', actual: 1n }]);
    expect(conflictOf(3).conflicts).toEqual([{ streamName: `${p}-missing`, expected: 'stream_exists', actual: -1n }]);
    expect(conflictOf(6).conflicts).toEqual([{ streamName: `${p}-no-stream-old`, expected: 'no_stream', actual: 1n }]);
    expect(conflictOf(7).conflicts).toEqual([{ streamName: `${p}-missing-2`, expected: '3', actual: -1n }]);
    const revisions = async (stream: string) => (await store.readStream(stream)).map((e) => Number(e.revision));
    expect(await revisions(`${p}-exact`)).toEqual([0, 1, 2]);
    expect(await revisions(`${p}-stale`)).toEqual([0, 1]);
    expect(await revisions(`${p}-exists`)).toEqual([0, 1, 2]);
    expect(await revisions(`${p}-missing`)).toEqual([]);
    expect(await revisions(`${p}-any-old`)).toEqual([0, 1, 2, 3]);
    expect(await revisions(`${p}-any-new`)).toEqual([0]);
    expect(await revisions(`${p}-pair-new`)).toEqual([]);
    expect(await revisions(`${p}-new`)).toEqual([0, 1, 2]);
    const accepted = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    expect(accepted.map((r) => r.streams.map((s) => s.nextRevision))).toEqual([[2n], [2n], [3n], [0n], [2n, 0n]]);
    // Positions follow the order of the appends, and each append's position is its last event's.
    const positions = accepted.map((r) => r.position);
    expect([...positions].sort((a, b) => (a < b ? -1 : 1))).toEqual(positions);
    expect((await store.readStream(`${p}-new-2`))[0]!.position).toBe(positions[4]);
  });

  // A replica of the code before migration 0006, still running during a rolling deploy, reads the
  // first row's last_position as its append's position: every row must still carry the append's.
  it("answers last_position as the append's last position on every row (a reader from before 0006)", async () => {
    const p = `group-old-reader-${randomUUID()}`;
    const batchOf = (tag: string) =>
      JSON.stringify(
        ['account', 'project', 'record'].map((kind) => ({
          stream: `${p}-${tag}-${kind}`,
          expected: 'no_stream',
          events: kind === 'project' ? [event(), event()] : [event()],
        })),
      );
    const client = new pg.Client({ connectionString });
    await client.connect();
    try {
      const appendWide = async (rows: { last_position: string; stream_position: string }[]) => {
        const own = rows.map((r) => BigInt(r.stream_position));
        const greatest = own.reduce((max, x) => (x > max ? x : max));
        // The streams' own positions differ: the first row's is not the append's.
        expect(new Set(own).size).toBe(rows.length);
        for (const row of rows) expect(BigInt(row.last_position)).toBe(greatest);
      };
      const alone = batchOf('alone');
      const sql = 'SELECT * FROM event_store.append($1::jsonb, $2)';
      const first = (await client.query(sql, [alone, false])).rows;
      await appendWide(first);
      // A replay answers the same.
      expect((await client.query(sql, [alone, true])).rows).toEqual(first);
      for (const fn of ['append_group', 'append_group_in_order']) {
        const group = `[${batchOf(`${fn}-1`)},${batchOf(`${fn}-2`)}]`;
        const rows = (await client.query(`SELECT * FROM event_store.${fn}($1::jsonb)`, [group])).rows;
        for (const bi of [1, 2]) await appendWide(rows.filter((r) => r.batch_index === bi));
        // Replayed in a group (its expectations fail now): the same rows.
        const again = (await client.query(`SELECT * FROM event_store.${fn}($1::jsonb)`, [group])).rows;
        expect(again).toEqual(rows);
      }
    } finally {
      await client.end();
    }
  });

  it('checks a conflicting append for a replay by index, never by scanning the log', async () => {
    const p = `group-scan-${randomUUID()}`;
    // Enough events that a join on the whole table looks cheaper to the planner than lookups.
    for (let i = 0; i < 20; i++) {
      await store.append([
        {
          streamName: `${p}-filler-${i}`,
          expectedRevision: 'no_stream',
          events: Array.from({ length: 1000 }, () => event()),
        },
      ]);
    }
    const client = new pg.Client({ connectionString });
    await client.connect();
    try {
      await client.query('ANALYZE event_store.events');
      const seqScans = async () => {
        await client.query('SELECT pg_stat_force_next_flush()');
        await client.query('SELECT pg_stat_clear_snapshot()');
        const { rows } = await client.query(
          "SELECT seq_scan FROM pg_stat_user_tables WHERE schemaname = 'event_store' AND relname = 'events'",
        );
        return Number(rows[0].seq_scan);
      };
      const before = await seqScans();
      const conflicting = [{ streamName: `${p}-filler-0`, expectedRevision: 0n, events: [event()] }];
      const batch = JSON.stringify([
        { stream: conflicting[0]!.streamName, expected: '0', events: conflicting[0]!.events },
      ]);
      await expect(store.append(conflicting)).rejects.toBeInstanceOf(VersionConflictError);
      await client.query('SELECT event_store.is_replay($1::jsonb), * FROM event_store.replay_result($1::jsonb)', [
        batch,
      ]);
      expect(await seqScans()).toBe(before);
    } finally {
      await client.end();
    }
  });

  it('answers a replay inside a group with the original result', async () => {
    const stream = `group-replay-${randomUUID()}`;
    const append = [{ streamName: stream, expectedRevision: 'no_stream' as const, events: [event(), event()] }];
    const first = await store.append(append);
    const [again, other] = await Promise.all([
      store.append(append),
      store.append([{ streamName: `${stream}-other`, expectedRevision: 'no_stream', events: [event()] }]),
    ]);
    expect(groups).toContainEqual({ size: 2, outcome: 'together' });
    expect(again).toEqual(first);
    expect(other.streams[0]!.nextRevision).toBe(0n);
    expect(await store.readStream(stream)).toHaveLength(2);
  });

  it('answers a replay racing its original in the same group with the original result', async () => {
    const stream = `group-twin-${randomUUID()}`;
    const append = [{ streamName: stream, expectedRevision: 'no_stream' as const, events: [event(), event()] }];
    const [first, twin] = await Promise.all([store.append(append), store.append(append)]);
    expect(groups).toContainEqual({ size: 2, outcome: 'one-by-one' });
    expect(twin).toEqual(first);
    expect(await store.readStream(stream)).toHaveLength(2);
  });

  it('answers a member the server refuses on its own, and still writes the others', async () => {
    const prefix = `group-bad-${randomUUID()}`;
    const settled = await Promise.allSettled([
      store.append([{ streamName: `${prefix}-ok-1`, expectedRevision: 'no_stream', events: [event()] }]),
      store.append([
        {
          streamName: `${prefix}-bad`,
          expectedRevision: 'no_stream',
          events: [{ ...event(), data: { text: 'nul \u0000 inside' } }],
        },
      ]),
      store.append([{ streamName: `${prefix}-ok-2`, expectedRevision: 'no_stream', events: [event()] }]),
    ]);
    expect(groups).toContainEqual({ size: 3, outcome: 'one-by-one' });
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason).toBeInstanceOf(InvalidAppendError);
    expect(await store.readStream(`${prefix}-bad`)).toHaveLength(0);
    expect(await store.readStream(`${prefix}-ok-1`)).toHaveLength(1);
    expect(await store.readStream(`${prefix}-ok-2`)).toHaveLength(1);
  });

  it('falls back to one by one when another transaction creates a stream of the group meanwhile', async () => {
    const prefix = `group-created-${randomUUID()}`;
    const contested = `${prefix}-contested`;
    const { holder, held, release } = await holdingStore(connectionString);
    const watcher = new pg.Client({ connectionString });
    await watcher.connect();
    try {
      const holding = holder.append([{ streamName: contested, expectedRevision: 'no_stream', events: [event()] }]);
      await held;
      const grouped = Promise.allSettled([
        store.append([{ streamName: `${prefix}-free`, expectedRevision: 'no_stream', events: [event()] }]),
        store.append([{ streamName: contested, expectedRevision: 'no_stream', events: [event()] }]),
      ]);
      // The group waits on the held insert of the contested stream's row.
      await someoneWaitsOnALock(watcher);
      release();
      await holding;
      const [free, contestedResult] = await grouped;
      expect(groups).toContainEqual({ size: 2, outcome: 'one-by-one' });
      expect(free.status).toBe('fulfilled');
      expect(contestedResult.status).toBe('rejected');
      expect((contestedResult as PromiseRejectedResult).reason).toBeInstanceOf(VersionConflictError);
      expect(await store.readStream(contested)).toHaveLength(1);
      expect(await store.readStream(`${prefix}-free`)).toHaveLength(1);
    } finally {
      release();
      await watcher.end();
      await holder.close();
    }
  });

  it('reads the streams of concurrent readStreams calls together, each its own pages', async () => {
    const prefix = `group-read-${randomUUID()}`;
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        store.append([
          {
            streamName: `${prefix}-${i}`,
            expectedRevision: 'no_stream',
            events: Array.from({ length: i + 1 }, () => event()),
          },
        ]),
      ),
    );
    const pages = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        store.readStreams([
          { streamName: `${prefix}-${i}`, fromRevision: 1n },
          { streamName: `${prefix}-missing-${i}` },
          { streamName: `${prefix}-${19 - i}`, limit: 2 },
        ]),
      ),
    );
    pages.forEach(([own, missing, other], i) => {
      expect(own!.map((e) => e.revision)).toEqual(Array.from({ length: i }, (_, r) => BigInt(r + 1)));
      expect(own!.every((e) => e.streamName === `${prefix}-${i}`)).toBe(true);
      expect(missing).toEqual([]);
      // Stream 19 - i has 20 - i events; the limit takes at most two.
      expect(other!.map((e) => e.streamName)).toEqual(Array(Math.min(2, 20 - i)).fill(`${prefix}-${19 - i}`));
    });
  });
});

/**
 * One reader of the log per store: however many subscriptions follow the live edge, each new
 * range is read once (by the store's tail) and every subscription gets all of it, in order,
 * once. One far behind (more than the tail keeps) reads its catch-up itself, then joins.
 */
describe('PostgresEventStore subscriptions share one reader of the log', () => {
  let connectionString: string;
  beforeAll(async () => {
    connectionString = await createTestDatabase('es_shared_tail');
  });

  it('reads each new range of the log once for four subscriptions at the head, each getting every event', async () => {
    const prefix = `tail-${randomUUID()}`;
    const reads: LogRead[] = [];
    let polls = 0;
    const reader = await connectPostgresForTesting(
      { connectionString },
      { onRead: (read) => reads.push(read), onPoll: () => polls++ },
    );
    const writers = await PostgresEventStore.connect({ connectionString, poolSize: 8 });
    try {
      const from = await writers.headPosition();
      const ids = Array.from({ length: 40 }, () => randomUUID());
      const all = Promise.all(
        Array.from({ length: 4 }, () =>
          collectUntil(
            reader.subscribeToAll({ afterPosition: from }),
            (e: StoredEvent) => e.streamName.startsWith(prefix),
            (r) => r.length === ids.length,
          ),
        ),
      );
      // Once the tail has found where the log ends (else all would start behind its window).
      await until(async () => polls > 0);
      // Appended in waves from several connections, so the tail wakes many times.
      for (let wave = 0; wave < 5; wave++) {
        await Promise.all(
          ids
            .slice(wave * 8, wave * 8 + 8)
            .map((id) =>
              writers.append([
                { streamName: `${prefix}-${id}`, expectedRevision: 'no_stream', events: [{ ...event(), id }] },
              ]),
            ),
        );
      }
      for (const received of await all) {
        assertOrderedOnce(received);
        expect(new Set(received.map((e) => e.id))).toEqual(new Set(ids));
      }
      // Nobody was behind: no catch-up reads, and the tail's reads never overlap.
      expect(reads.filter((r) => r.by === 'catch-up')).toEqual([]);
      const tail = reads.filter((r) => r.by === 'tail');
      expect(tail.length).toBeGreaterThan(0);
      for (let i = 1; i < tail.length; i++) expect(tail[i]!.after).toBeGreaterThanOrEqual(tail[i - 1]!.upTo);
      expect(tail.reduce((n, r) => n + r.events, 0)).toBeGreaterThanOrEqual(ids.length);
    } finally {
      await Promise.all([reader.close(), writers.close()]);
    }
  });

  it('reads each event of a burst bigger than the window once for four followers, none falling out of it', async () => {
    const prefix = `tail-burst-${randomUUID()}`;
    const reads: LogRead[] = [];
    const polled: bigint[] = [];
    const reader = await connectPostgresForTesting(
      { connectionString },
      { onRead: (read) => reads.push(read), onPoll: ({ safeHead }) => polled.push(safeHead) },
    );
    const writers = await PostgresEventStore.connect({ connectionString, poolSize: 4 });
    try {
      const from = await writers.headPosition();
      const subscriptions = Array.from({ length: 4 }, () => reader.subscribeToAll({ afterPosition: from }));
      const iterators = subscriptions.map((s) => s[Symbol.asyncIterator]());
      const firstPulls = Promise.all(iterators.map((i) => i.next()));
      await until(async () => polled.length > 0);
      const first = event();
      await writers.append([{ streamName: `${prefix}-first`, expectedRevision: 'no_stream', events: [first] }]);
      // Each follower now holds the first event and pulls nothing more while the burst is written.
      expect((await firstPulls).map((r) => r.value?.id)).toEqual([first.id, first.id, first.id, first.id]);
      const burst = 3 * TAIL_WINDOW_MAX;
      for (let i = 0; i < burst; i += 512) {
        const events = Array.from({ length: 512 }, () => event());
        await writers.append([{ streamName: `${prefix}-${i}`, expectedRevision: 'no_stream', events }]);
      }
      // Two polls that see the end: a reader that reads ahead on its own has read the whole
      // burst before its second (it polls again only once it has read all it knew final).
      const sentinels = [event('Sentinel'), event('Sentinel')];
      for (const sentinel of sentinels) {
        const { position } = await writers.append([
          { streamName: `${prefix}-${sentinel.id}`, expectedRevision: 'no_stream', events: [sentinel] },
        ]);
        await until(async () => polled.some((safeHead) => safeHead >= position));
      }
      const received = await Promise.all(
        iterators.map(async (iterator, i) => {
          const got: StoredEvent[] = [(await firstPulls)[i]!.value as StoredEvent];
          for (let r = await iterator.next(); !r.done; r = await iterator.next()) {
            got.push(r.value);
            if (r.value.id === sentinels[1]!.id) break;
          }
          await subscriptions[i]!.close();
          return got;
        }),
      );
      for (const got of received) {
        assertOrderedOnce(got);
        expect(got).toHaveLength(burst + 3);
      }
      // Read once, by the shared reader: no follower fell behind its window to read for itself.
      expect(reads.filter((r) => r.by === 'catch-up')).toEqual([]);
      expect(reads.reduce((n, r) => n + r.events, 0)).toBe(burst + 3);
    } finally {
      await Promise.all([reader.close(), writers.close()]);
    }
  });

  it('rides out a moment of unavailability of its poll, and when it lasts fails only the subscriptions waiting on it', async () => {
    const prefix = `tail-unavailable-${randomUUID()}`;
    const polled: bigint[] = [];
    const reader = await connectPostgresForTesting(
      { connectionString },
      { onPoll: ({ safeHead }) => polled.push(safeHead) },
    );
    const writers = await PostgresEventStore.connect({ connectionString, poolSize: 4 });
    // The reader's next horizon polls fail as a pooled connection terminated under them would.
    let failing = 0;
    const query = reader.pool.query.bind(reader.pool) as (...args: unknown[]) => unknown;
    (reader.pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      if (failing > 0 && (args[0] as { name?: string } | undefined)?.name === 'event_store.horizon') {
        failing--;
        const error = new Error('terminating connection due to administrator command');
        return Promise.reject(Object.assign(error, { code: '57P01' }));
      }
      return query(...args);
    };
    const append = (name: string, events = [event()]) =>
      writers.append([{ streamName: `${prefix}-${name}`, expectedRevision: 'no_stream', events }]);
    try {
      const from = await writers.headPosition();
      const backlog = Array.from({ length: 3 }, () => event());
      await append('backlog', backlog);
      const live = reader.subscribeToAll({ afterPosition: await writers.headPosition() });
      const liveIterator = live[Symbol.asyncIterator]();
      const liveNext = liveIterator.next();
      await until(async () => polled.length > 0);
      // Once: the poll is tried again, and the follower gets the event as if nothing happened.
      failing = 1;
      const once = event();
      await append('once', [once]);
      expect((await liveNext).value?.id).toBe(once.id);
      expect(failing).toBe(0);

      // One in the middle of its own catch-up (behind the window) holds its first event.
      const pollsBefore = polled.length;
      const behind = reader.subscribeToAll({ afterPosition: from });
      const behindIterator = behind[Symbol.asyncIterator]();
      expect((await behindIterator.next()).value?.id).toBe(backlog[0]!.id);
      // The poll its arrival woke the reader for is over (else it could see the next append).
      await until(async () => polled.length > pollsBefore);
      // For good: the one waiting on the reader fails; the one catching up does not.
      failing = Number.POSITIVE_INFINITY;
      const lasting = event();
      await append('lasting', [lasting]);
      await expect(liveIterator.next()).rejects.toThrow(StoreUnavailableError);
      failing = 0;
      const rest: StoredEvent[] = [];
      for (let r = await behindIterator.next(); !r.done; r = await behindIterator.next()) {
        if (r.value.streamName.startsWith(prefix)) rest.push(r.value);
        if (r.value.id === lasting.id) break;
      }
      await behind.close();
      expect(rest.map((e) => e.id)).toEqual([backlog[1]!.id, backlog[2]!.id, once.id, lasting.id]);
    } finally {
      failing = 0;
      await Promise.all([reader.close(), writers.close()]);
    }
  });

  it('serves a new subscription at once, not after the idle wait of the reader (a NOTIFY lost)', async () => {
    const prefix = `tail-attach-${randomUUID()}`;
    const polled: bigint[] = [];
    // Nothing wakes this reader but a NOTIFY, an append here, or a new subscription.
    const reader = await connectPostgresForTesting(
      { connectionString },
      { idleDelayMs: 3_600_000, onPoll: ({ head }) => polled.push(head) },
    );
    const writers = await PostgresEventStore.connect({ connectionString });
    try {
      const first = reader.subscribeToAll({ afterPosition: await writers.headPosition() });
      const firstNext = first[Symbol.asyncIterator]().next();
      await until(async () => polled.length > 0);
      const notified = event();
      const { position } = await writers.append([
        { streamName: `${prefix}-notified`, expectedRevision: 'no_stream', events: [notified] },
      ]);
      expect((await firstNext).value?.id).toBe(notified.id);
      // Woken by its NOTIFY, it polled and read it (nothing held: it then sleeps without polling again).
      await until(async () => polled.some((head) => head >= position));
      (writers as unknown as { notifications: { publish: () => void } }).notifications.publish = () => undefined;
      const unnoticed = event();
      await writers.append([{ streamName: `${prefix}-unnoticed`, expectedRevision: 'no_stream', events: [unnoticed] }]);
      const second = reader.subscribeToAll({ afterPosition: position });
      const got = await Promise.race([
        second[Symbol.asyncIterator]().next(),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('the new subscription waited for the idle reader')), 10_000).unref(),
        ),
      ]);
      expect(got.value?.id).toBe(unnoticed.id);
      await Promise.all([first.close(), second.close()]);
    } finally {
      await Promise.all([reader.close(), writers.close()]);
    }
  });

  it('polls the horizon once per append of its own at one writer: its own NOTIFY wakes it no second time', async () => {
    const prefix = `tail-own-${randomUUID()}`;
    const polled: bigint[] = [];
    // No idle polls: every poll here is one a wake caused. Only those that held nothing back
    // count: one that did (a transaction of another suite in flight on the same server) is
    // polled again by design, as often as that transaction takes.
    const store = await connectPostgresForTesting(
      { connectionString },
      {
        idleDelayMs: 3_600_000,
        onPoll: ({ head, safeHead }) => {
          if (safeHead === head) polled.push(head);
        },
      },
    );
    const other = await PostgresEventStore.connect({ connectionString });
    try {
      const subscription = store.subscribeToAll({ afterPosition: await store.headPosition() });
      const iterator = subscription[Symbol.asyncIterator]();
      let next = iterator.next();
      await until(async () => polled.length > 0);
      const before = polled.length;
      const appends = 10;
      for (let i = 0; i < appends; i++) {
        const own = event();
        await store.append([{ streamName: `${prefix}-${i}`, expectedRevision: 'no_stream', events: [own] }]);
        expect((await next).value?.id).toBe(own.id);
        next = iterator.next();
      }
      // Another store's append: its NOTIFY comes after the echoes of this store's own ones, so
      // once it is delivered every echo has reached this store (and would have woken it).
      const sentinel = event('Sentinel');
      await other.append([{ streamName: `${prefix}-sentinel`, expectedRevision: 'no_stream', events: [sentinel] }]);
      expect((await next).value?.id).toBe(sentinel.id);
      // One poll per wake (10 appends, the sentinel's NOTIFY): before, a poll that held nothing
      // was polled again, and each own append woke the reader twice (its publish, its NOTIFY).
      expect(polled.length - before).toBeLessThanOrEqual(appends + 1);
      await subscription.close();
    } finally {
      await Promise.all([store.close(), other.close()]);
    }
  });

  it('fails a subscription pulled after the store closed instead of leaving it waiting', async () => {
    const store = await PostgresEventStore.connect({ connectionString });
    await store.close();
    const iterator = store.subscribeToAll()[Symbol.asyncIterator]();
    await expect(iterator.next()).rejects.toThrow('the event store is closed');
  });

  it('lets a subscription far behind the shared window catch up on its own, then join it, exactly once', async () => {
    const prefix = `tail-behind-${randomUUID()}`;
    const reads: LogRead[] = [];
    const reader = await connectPostgresForTesting({ connectionString }, { onRead: (read) => reads.push(read) });
    const writers = await PostgresEventStore.connect({ connectionString, poolSize: 4 });
    try {
      const from = await writers.headPosition();
      const backlog = TAIL_WINDOW_MAX + 600;
      for (let i = 0; i < backlog; i += 200) {
        const events = Array.from({ length: Math.min(200, backlog - i) }, () => event());
        await writers.append([{ streamName: `${prefix}-old-${i}`, expectedRevision: 'no_stream', events }]);
      }
      // One follows the live edge (so the tail runs); another starts at `from`, behind it all.
      const live = reader.subscribeToAll({ afterPosition: await writers.headPosition() });
      const liveIterator = live[Symbol.asyncIterator]();
      const firstLive = liveIterator.next();
      const sentinel = event('Sentinel');
      const behind = collectUntil(
        reader.subscribeToAll({ afterPosition: from }),
        (e: StoredEvent) => e.streamName.startsWith(prefix),
        (r) => r.some((e) => e.id === sentinel.id),
      );
      // The live edge moves on while the one behind catches up: more than the window holds.
      for (let i = 0; i < (3 * TAIL_WINDOW_MAX) / 2; i += 512) {
        const events = Array.from({ length: 512 }, () => event());
        await writers.append([{ streamName: `${prefix}-new-${i}`, expectedRevision: 'no_stream', events }]);
      }
      await writers.append([{ streamName: `${prefix}-sentinel`, expectedRevision: 'no_stream', events: [sentinel] }]);
      const received = await behind;
      assertOrderedOnce(received);
      expect(received).toHaveLength(backlog + (3 * TAIL_WINDOW_MAX) / 2 + 1);
      expect((await firstLive).value).toBeDefined();
      await live.close();
      expect(reads.some((r) => r.by === 'catch-up' && r.after === from)).toBe(true);
    } finally {
      await Promise.all([reader.close(), writers.close()]);
    }
  });
});

/**
 * The gap problem: positions come from a sequence, so a transaction that drew
 * position p can commit after one that drew p + 1. A subscriber that reads up
 * to the highest visible position and moves its checkpoint there never sees p.
 * Here one append draws the lowest position and holds its transaction open
 * while 24 connections append and commit; the subscriber polls past them, then
 * the held append commits. With the protection the subscriber gets every event;
 * with it disabled (second case) the same sequence loses the held event.
 */
describe('PostgresEventStore subscription gap protection', () => {
  let connectionString: string;
  beforeAll(async () => {
    connectionString = await createTestDatabase('es_gap');
  });

  async function runHeldTransactionScenario(protection: GapProtection) {
    const prefix = `gap-${randomUUID()}`;
    const heldStream = `${prefix}-held`;
    const { holder, held, release } = await holdingStore(connectionString, (streams) =>
      streams.some((s) => s.streamName === heldStream),
    );
    const polls: { head: bigint; safeHead: bigint }[] = [];
    let pollWaiter: (() => void) | undefined;
    const reader = await connectPostgresForTesting(
      { connectionString },
      {
        gapProtection: protection,
        onPoll: (poll) => {
          polls.push(poll);
          pollWaiter?.();
        },
      },
    );
    const writers = await PostgresEventStore.connect({ connectionString, poolSize: 24 });
    const pollsSeeing = async (position: bigint, count: number): Promise<void> => {
      while (polls.filter((p) => p.head >= position).length < count) {
        await new Promise<void>((resolve) => (pollWaiter = resolve));
      }
    };

    try {
      const from = await writers.headPosition();
      const sentinel = event('Sentinel');
      const received = collectUntil(
        reader.subscribeToAll({ afterPosition: from }),
        (e: StoredEvent) => e.streamName.startsWith(prefix),
        (r) => r.some((e) => e.id === sentinel.id),
      );
      const heldEvent = event('Held');
      const heldAppend = holder.append([
        { streamName: heldStream, expectedRevision: 'no_stream', events: [heldEvent] },
      ]);
      await held;
      const results = await Promise.all(
        Array.from({ length: 24 }, (_, w) =>
          writers.append([
            { streamName: `${prefix}-w${w}`, expectedRevision: 'no_stream', events: [event(), event()] },
          ]),
        ),
      );
      const lastPosition = results.reduce((max, r) => (r.position > max ? r.position : max), 0n);
      // Two polls that see every later commit: the batch read between them has been consumed.
      await pollsSeeing(lastPosition, 2);
      release();
      const heldResult = await heldAppend;
      expect(heldResult.position).toBeLessThan(lastPosition);
      await writers.append([{ streamName: `${prefix}-sentinel`, expectedRevision: 'no_stream', events: [sentinel] }]);
      const events = await received;
      assertOrderedOnce(events);
      return { events, heldEvent, appendedCount: 24 * 2 + 2 };
    } finally {
      release();
      await Promise.all([holder.close(), reader.close(), writers.close()]);
    }
  }

  it('delivers an event whose transaction commits after later positions, in order, exactly once', async () => {
    const { events, heldEvent, appendedCount } = await runHeldTransactionScenario('snapshot-horizon');
    expect(events).toHaveLength(appendedCount);
    expect(events[0]!.id).toBe(heldEvent.id);
  });

  it('loses that event when the protection is disabled (the test above would fail)', async () => {
    const { events, heldEvent, appendedCount } = await runHeldTransactionScenario('none');
    expect(events.map((e) => e.id)).not.toContain(heldEvent.id);
    // Gaps among the 24 racing writers can be lost too; the held one always is.
    expect(events.length).toBeLessThan(appendedCount);
  });

  it('polls a held horizon no more often than every few milliseconds, however many commits wake it', async () => {
    const prefix = `gap-rate-${randomUUID()}`;
    const { holder, held, release } = await holdingStore(connectionString);
    const polls: { at: number; head: bigint; safeHead: bigint }[] = [];
    const reader = await connectPostgresForTesting(
      { connectionString },
      { onPoll: ({ head, safeHead }) => polls.push({ at: performance.now(), head, safeHead }) },
    );
    try {
      const from = await reader.headPosition();
      const subscription = reader.subscribeToAll({ afterPosition: from });
      const iterator = subscription[Symbol.asyncIterator]();
      const first = iterator.next();
      const heldAppend = holder.append([
        { streamName: `${prefix}-held`, expectedRevision: 'no_stream', events: [event()] },
      ]);
      await held;
      // Every append of this store wakes its subscriber at once, in the process.
      for (let i = 0; i < 60; i++) {
        await reader.append([{ streamName: `${prefix}-${i}`, expectedRevision: 'no_stream', events: [event()] }]);
      }
      release();
      await heldAppend;
      await first;
      await subscription.close();
      // Held polls begin at least the gap apart (a poll that released something may be followed
      // at once, but nothing is released while the first event is held): at most one per gap
      // over the time they spanned, however many of the 60 commits woke the subscriber.
      const heldPolls = polls.filter((poll) => poll.head > poll.safeHead);
      expect(heldPolls.length).toBeGreaterThan(1);
      const spanMs = heldPolls.at(-1)!.at - heldPolls[0]!.at;
      expect(heldPolls.length).toBeLessThanOrEqual(Math.floor(spanMs / HELD_POLL_GAP_MS) + 3);
    } finally {
      release();
      await Promise.all([holder.close(), reader.close()]);
    }
  });

  /**
   * The case a snapshot's xmin/xmax miss: append A takes its transaction id,
   * then waits on a row lock; append B takes a later id, draws a position and
   * stays open; A is let through, draws a later position and commits. Now
   * B's id is above every completed one, so no snapshot lists it as running,
   * yet its position is below A's. The subscriber must still deliver B.
   */
  it('delivers a late commit whose transaction id is above every completed one', async () => {
    const prefix = `gap-xid-${randomUUID()}`;
    const hot = `${prefix}-hot`;
    const events = await PostgresEventStore.connect({ connectionString });
    const { holder, held, release } = await holdingStore(connectionString);
    const polls: bigint[] = [];
    let pollWaiter: (() => void) | undefined;
    const reader = await connectPostgresForTesting(
      { connectionString },
      {
        onPoll: ({ head }) => {
          polls.push(head);
          pollWaiter?.();
        },
      },
    );
    const blocker = new pg.Client({ connectionString });
    const raw = new pg.Client({ connectionString });
    await Promise.all([blocker.connect(), raw.connect()]);
    try {
      await events.append([{ streamName: hot, expectedRevision: 'no_stream', events: [event()] }]);
      const from = await events.headPosition();
      const sentinel = event('Sentinel');
      const received = collectUntil(
        reader.subscribeToAll({ afterPosition: from }),
        (e: StoredEvent) => e.streamName.startsWith(prefix),
        (r) => r.some((e) => e.id === sentinel.id),
      );
      await blocker.query('BEGIN');
      await blocker.query('SELECT 1 FROM event_store.streams WHERE stream_name = $1 FOR UPDATE', [hot]);
      // A, through the SQL function directly: no NOTIFY transaction to move the completed-id marker.
      const a = event('A');
      const batch = JSON.stringify([
        { stream: `${prefix}-a`, expected: 'any', events: [a] },
        { stream: hot, expected: 'any', events: [event('A2')] },
      ]);
      const appendA = raw.query('SELECT last_position FROM event_store.append($1::jsonb, false)', [batch]);
      // A holds its id once its first row lock shows up as a wait on the hot row.
      await someoneWaitsOnALock(blocker);
      const b = event('B');
      const appendB = holder.append([{ streamName: `${prefix}-b`, expectedRevision: 'no_stream', events: [b] }]);
      await held;
      await blocker.query('COMMIT');
      const positionA = BigInt((await appendA).rows[0].last_position);
      while (polls.filter((head) => head >= positionA).length < 2) {
        await new Promise<void>((resolve) => (pollWaiter = resolve));
      }
      release();
      const positionB = (await appendB).position;
      expect(positionB).toBeLessThan(positionA);
      await events.append([{ streamName: `${prefix}-sentinel`, expectedRevision: 'no_stream', events: [sentinel] }]);
      const delivered = await received;
      assertOrderedOnce(delivered);
      expect(delivered.map((e) => e.id)).toEqual(expect.arrayContaining([a.id, b.id, sentinel.id]));
    } finally {
      release();
      await blocker.end();
      await raw.end();
      await Promise.all([events.close(), holder.close(), reader.close()]);
    }
  });
});

async function until(condition: () => Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setImmediate(resolve));
}

/** A store whose appends stop before COMMIT until released: a transaction held open on purpose. */
async function holdingStore(
  connectionString: string,
  holds: (streams: readonly StreamAppend[]) => boolean = () => true,
) {
  let signalHeld!: () => void;
  const held = new Promise<void>((resolve) => (signalHeld = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const holder = await connectPostgresForTesting(
    { connectionString },
    {
      beforeCommit: async (streams: readonly StreamAppend[]) => {
        if (!holds(streams)) return;
        signalHeld();
        await released;
      },
    },
  );
  return { holder, held, release };
}

/** Until some session of this database waits on a lock. */
async function someoneWaitsOnALock(client: pg.Client): Promise<void> {
  await until(async () => {
    const { rows } = await client.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
    );
    return rows[0].n > 0;
  });
}
