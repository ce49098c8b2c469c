import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { migrate } from '@ledger/platform';
import { PostgresEventStore, type EventStore, type ReadStreamOptions } from '@ledger/event-store';
import { createTestDatabase } from '@ledger/test-support';
import {
  decideDebitCredits,
  evolveAccount,
  evolveProject,
  initialAccountState,
  initialProjectState,
  type AccountState,
} from '@ledger/domain';
import { SnapshotStore, ledgerApiMigrations } from './snapshot.store.js';
import { ACCOUNT_FOLD as fold, PROJECT_FOLD } from './stream-folds.js';
import { SNAPSHOT_EVERY_EVENTS, StateCacheMemory, StreamStateCache, type LoadedState } from './stream-state.cache.js';

describe('StreamStateCache', () => {
  let store: PostgresEventStore;
  let pool: pg.Pool;
  let snapshots: SnapshotStore;
  let eventsRead = 0;
  const counting: EventStore = new Proxy({} as EventStore, {
    get: (_, name: keyof EventStore) =>
      name === 'readStream'
        ? async (stream: string, options?: ReadStreamOptions) => {
            const events = await store.readStream(stream, options);
            eventsRead += events.length;
            return events;
          }
        : (store[name] as (...args: unknown[]) => unknown).bind(store),
  });

  beforeAll(async () => {
    const url = await createTestDatabase('state_cache');
    store = await PostgresEventStore.connect({ connectionString: url });
    pool = new pg.Pool({ connectionString: url });
    await migrate(pool, ledgerApiMigrations);
    snapshots = new SnapshotStore(pool, { warn: () => undefined });
  });
  afterAll(async () => {
    await store.close();
    await pool.end();
  });

  async function grants(stream: string, count: number, expected: bigint | 'no_stream') {
    const events = Array.from({ length: count }, () => ({
      id: randomUUID(),
      type: 'CreditsGranted',
      data: { amount: 1, source: 'purchase' },
    }));
    await store.append([{ streamName: stream, expectedRevision: expected, events }]);
  }

  /** A new stream of `count` grants, loaded once so that its snapshots are taken and saved. */
  async function snapshotted(stream: string, count: number) {
    await grants(stream, count, 'no_stream');
    await new StreamStateCache(counting, fold, snapshots).load(stream);
    await snapshots.drain();
  }

  it('folds a stream once, then reads only what was appended since', async () => {
    const stream = `account-${randomUUID()}`;
    await grants(stream, 30, 'no_stream');
    const cache = new StreamStateCache(counting, fold, snapshots);
    eventsRead = 0;
    expect((await cache.load(stream)).state.balance).toBe(30);
    expect(eventsRead).toBe(30);
    await grants(stream, 2, 29n);
    eventsRead = 0;
    const loaded = await cache.load(stream);
    expect(loaded).toMatchObject({ revision: 31n, state: { balance: 32 } });
    expect(eventsRead).toBe(2);
  });

  it('starts a cold cache from the latest snapshot, not from the first event', async () => {
    const stream = `account-${randomUUID()}`;
    const total = SNAPSHOT_EVERY_EVENTS * 3 + 7;
    await snapshotted(stream, total);
    await grants(stream, 5, BigInt(total - 1));
    eventsRead = 0;
    const cold = await new StreamStateCache(counting, fold, snapshots).load(stream);
    expect(cold.state.balance).toBe(total + 5);
    expect(eventsRead).toBe(5);
  });

  it('ignores a snapshot taken by another version of the fold', async () => {
    const stream = `account-${randomUUID()}`;
    await snapshotted(stream, SNAPSHOT_EVERY_EVENTS + 1);
    eventsRead = 0;
    const next = await new StreamStateCache(counting, { ...fold, version: fold.version + 1 }, snapshots).load(stream);
    expect(next.state.balance).toBe(SNAPSHOT_EVERY_EVENTS + 1);
    expect(eventsRead).toBe(SNAPSHOT_EVERY_EVENTS + 1);
  });

  it('loads a short stream not in memory from the page read ahead alone, with no snapshot lookup or other read', async () => {
    const stream = `account-${randomUUID()}`;
    await grants(stream, SNAPSHOT_EVERY_EVENTS - 1, 'no_stream');
    const cache = new StreamStateCache(counting, fold, snapshots);
    const head = cache.tailOf(stream);
    expect(head).toEqual({ streamName: stream, fromRevision: 0n, limit: SNAPSHOT_EVERY_EVENTS });
    const [page] = await store.readStreams([head]);
    let snapshotLoads = 0;
    const watched = Object.assign(Object.create(snapshots) as SnapshotStore, {
      load: (...args: Parameters<SnapshotStore['load']>) => {
        snapshotLoads++;
        return snapshots.load(...args);
      },
    });
    eventsRead = 0;
    const loaded = await new StreamStateCache(counting, fold, watched).load(stream, {
      fromRevision: 0n,
      limit: SNAPSHOT_EVERY_EVENTS,
      events: page!,
    });
    expect(loaded).toMatchObject({ revision: BigInt(SNAPSHOT_EVERY_EVENTS - 2), state: { balance: 99 } });
    expect(eventsRead).toBe(0);
    expect(snapshotLoads).toBe(0);
  });

  it('goes to the snapshot when the page read ahead of a stream not in memory is full', async () => {
    const stream = `account-${randomUUID()}`;
    const total = SNAPSHOT_EVERY_EVENTS * 2 + 3;
    await snapshotted(stream, total);
    const cold = new StreamStateCache(counting, fold, snapshots);
    const [page] = await store.readStreams([cold.tailOf(stream)]);
    expect(page).toHaveLength(SNAPSHOT_EVERY_EVENTS);
    eventsRead = 0;
    const loaded = await cold.load(stream, { fromRevision: 0n, limit: SNAPSHOT_EVERY_EVENTS, events: page! });
    expect(loaded.state.balance).toBe(total);
    // Only what follows the snapshot: the page of the first events was not enough, and not folded twice.
    expect(eventsRead).toBeLessThan(SNAPSHOT_EVERY_EVENTS);
  });

  it('reads on past a full page read ahead, even when it is used as the tail of a state in memory', async () => {
    const stream = `account-${randomUUID()}`;
    const cache = new StreamStateCache(counting, fold, snapshots);
    // In memory as "no such stream" (revision undefined): the next load reads from revision 0.
    expect((await cache.load(stream)).revision).toBeUndefined();
    await grants(stream, SNAPSHOT_EVERY_EVENTS + 50, 'no_stream');
    const [page] = await store.readStreams([{ streamName: stream, fromRevision: 0n, limit: SNAPSHOT_EVERY_EVENTS }]);
    const loaded = await cache.load(stream, { fromRevision: 0n, limit: SNAPSHOT_EVERY_EVENTS, events: page! });
    expect(loaded).toMatchObject({
      revision: BigInt(SNAPSHOT_EVERY_EVENTS + 49),
      state: { balance: SNAPSHOT_EVERY_EVENTS + 50 },
    });
  });
  it("stores an account's snapshot as its plain JSON, and decides on it as on a refold of its events", async () => {
    // Lots of every rank, some drawn: the LotBook the fold keeps is not in the JSON, which is
    // what the fold stored before it (same fold version); a state read back builds its own.
    const stream = `account-${randomUUID()}`;
    const events = Array.from({ length: SNAPSHOT_EVERY_EVENTS + 20 }, (_, i) =>
      i % 3 === 2
        ? { type: 'Debited', data: { amount: 2, reason: 'fee', lots: [{ grantId: `g${i - 2}`, amount: 2 }] } }
        : {
            type: 'CreditsGranted',
            data: {
              amount: 5,
              source: i % 2 === 0 ? 'purchase' : 'promo',
              grantId: `g${i}`,
              category: i % 2 === 0 ? 'paid' : 'promotional',
              priority: (i * 7) % 100,
              ...(i % 4 === 0 ? {} : { expiresAt: new Date(Date.UTC(2040, 0, 1) + i * 60_000).toISOString() }),
            },
          },
    );
    await store.append([
      { streamName: stream, expectedRevision: 'no_stream', events: events.map((e) => ({ id: randomUUID(), ...e })) },
    ]);
    const refolded = events.reduce((state, event) => fold.evolve(state, event), fold.initial());
    await new StreamStateCache(counting, fold, snapshots).load(stream);
    await snapshots.drain();
    const { rows } = await pool.query<{ state: unknown }>(
      'SELECT state FROM ledger_api.snapshots WHERE stream_name = $1',
      [stream],
    );
    expect(rows[0]!.state).toEqual(JSON.parse(JSON.stringify(refolded)));
    expect((rows[0]!.state as AccountState).lots).toHaveLength(refolded.lots.length);

    eventsRead = 0;
    const cold = await new StreamStateCache(counting, fold, snapshots).load(stream);
    expect(eventsRead).toBe(0);
    for (const now of [new Date('2030-01-01T00:00:00.000Z'), new Date(Date.UTC(2040, 0, 1) + 45 * 60_000)]) {
      const debit = { type: 'DebitCredits', accountId: 'a', amount: 40, reason: 'fee', now } as const;
      expect(decideDebitCredits(cold.state, debit)).toEqual(decideDebitCredits(refolded, debit));
    }
    const next = { type: 'Debited', data: { amount: 1, reason: 'fee', lots: [{ grantId: 'g0', amount: 1 }] } };
    // (jsonb keeps an object's keys in its own order: compared as values, not as strings.)
    const plain = (state: AccountState): unknown => JSON.parse(JSON.stringify(state));
    expect(plain(fold.evolve(cold.state, next))).toEqual(plain(fold.evolve(refolded, next)));
  });

  it('keeps the states of every kind of stream within one bound, the least recently kept going first', () => {
    const account = (n: number): LoadedState<AccountState> => ({
      state: evolveAccount(initialAccountState(), {
        type: 'CreditsGranted',
        data: { amount: n, source: 'purchase', grantId: `g-${n}` },
      }),
      revision: 0n,
      lastPosition: BigInt(n),
      lastEventAt: new Date().toISOString(),
    });
    const project = {
      state: evolveProject(initialProjectState(), {
        type: 'ProjectStarted',
        data: {
          accountId: 'a',
          cost: 1,
          deadlineAt: '2030-01-01T00:00:00.000Z',
          lots: [{ grantId: 'g-1', amount: 1 }],
        },
      }),
      revision: 0n,
      lastPosition: 3n,
      lastEventAt: new Date().toISOString(),
    };
    const names = [`account-${randomUUID()}`, `account-${randomUUID()}`, `project-${randomUUID()}`] as const;
    // What each takes by the caches' estimate, learnt in a memory without a bound to speak of.
    const unbounded = new StateCacheMemory(2 ** 40);
    new StreamStateCache(counting, fold, snapshots, unbounded).advance(names[0], account(1));
    new StreamStateCache(counting, fold, snapshots, unbounded).advance(names[1], account(2));
    new StreamStateCache(counting, PROJECT_FOLD, snapshots, unbounded).advance(names[2], project);
    const all = unbounded.bytes;
    expect(all).toBeGreaterThan(0);

    // One byte short of all three: the project's state pushes out the account kept first.
    const memory = new StateCacheMemory(all - 1);
    const accounts = new StreamStateCache(counting, fold, snapshots, memory);
    const projects = new StreamStateCache(counting, PROJECT_FOLD, snapshots, memory);
    accounts.advance(names[0], account(1));
    accounts.advance(names[1], account(2));
    expect(accounts.peek(names[0])).toBeDefined();
    projects.advance(names[2], project);
    expect(accounts.peek(names[0])).toBeUndefined();
    expect(accounts.peek(names[1])?.balance).toBe(2);
    expect(projects.peek(names[2])?.status).toBe('pending');
    expect(memory.bytes).toBeLessThanOrEqual(all - 1);
  });
});
