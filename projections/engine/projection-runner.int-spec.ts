import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { PostgresEventStore, type StoredEvent } from '@ledger/event-store';
import { migrate } from '@ledger/platform';
import { createTestDatabase } from '@ledger/test-support';
import { valuesList, type Projection, type RowChange } from '../projection.js';
import { projectionMigrations } from '../schema.js';
import { FencedOffError, ProjectionAssertionError } from './errors.js';
import { ProjectionRunner, type RunnerLog } from './projection-runner.js';

/**
 * The runner of a group of projections, with projections that record every
 * position they are given (no key: a position given twice shows as two rows),
 * so each test can say exactly which events each projection got.
 */
describe('projection runner: a group of projections in one transaction per batch', () => {
  let url: string;
  let store: PostgresEventStore;
  let pool: pg.Pool;
  const stops: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    url = await createTestDatabase('runner');
    store = await PostgresEventStore.connect({ connectionString: url });
    pool = new pg.Pool({ connectionString: url });
    pool.on('error', () => undefined);
    await migrate(pool, projectionMigrations);
    await pool.query('CREATE SCHEMA test_runner; CREATE TABLE test_runner.seen (projection text, position bigint)');
  });
  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
  });
  afterAll(async () => {
    await store.close();
    await pool.end();
  });

  /** Records each event it is given; if `poisoned`, a `Poison` event makes it promise 2 rows where 1 changes. */
  function recorder(name: string, poisoned = false): Projection {
    return {
      name,
      tables: [],
      map(events: readonly StoredEvent[]): RowChange[] {
        const changes: RowChange[] = [
          {
            text: `INSERT INTO test_runner.seen (projection, position) VALUES ${valuesList(events.length, 2)}`,
            values: events.flatMap((e) => [name, e.position]),
            expectRows: events.length,
          },
        ];
        for (const poison of events.filter((e) => poisoned && e.type === 'Poison')) {
          changes.push({
            text: 'UPDATE test_runner.seen SET position = position WHERE projection = $1 AND position = $2',
            values: [name, poison.position],
            expectRows: 2,
          });
        }
        return changes;
      },
    };
  }

  /** Fresh projection names (the locks are per name) with their checkpoint rows. */
  async function group(checkpoints: readonly bigint[]): Promise<string[]> {
    const names = checkpoints.map(() => `t_${randomUUID().slice(0, 8)}`);
    await pool.query(
      `INSERT INTO projections.checkpoints (projection, position) VALUES ${valuesList(names.length, 2)}`,
      names.flatMap((name, i) => [name, String(checkpoints[i])]),
    );
    return names;
  }

  function start(names: readonly string[], log: RunnerLog = quiet(), poisoned?: string): ProjectionRunner {
    const runner = new ProjectionRunner({
      pool,
      connectionString: url,
      store,
      projections: names.map((name) => recorder(name, name === poisoned)),
      log,
      lockRetryMs: 20,
    });
    const abort = new AbortController();
    const running = runner.run(abort.signal);
    stops.push(async () => {
      abort.abort();
      await running;
    });
    return runner;
  }

  async function append(count: number, type = 'Filler'): Promise<bigint[]> {
    const events = Array.from({ length: count }, () => ({ id: randomUUID(), type, data: {} }));
    const result = await store.append([{ streamName: `other-${randomUUID()}`, expectedRevision: 'no_stream', events }]);
    return Array.from({ length: count }, (_, i) => result.position - BigInt(count - 1 - i));
  }

  async function seen(name: string): Promise<bigint[]> {
    const { rows } = await pool.query<{ position: string }>(
      'SELECT position FROM test_runner.seen WHERE projection = $1 ORDER BY position',
      [name],
    );
    return rows.map((r) => BigInt(r.position));
  }

  async function stored(name: string): Promise<bigint> {
    const { rows } = await pool.query<{ position: string }>(
      'SELECT position FROM projections.checkpoints WHERE projection = $1',
      [name],
    );
    return BigInt(rows[0]!.position);
  }

  it('gives each projection exactly the events after its own checkpoint, however far apart they start', async () => {
    const before = await append(10);
    const names = await group([before[0]! - 1n, before[3]!, before[9]!]);
    const runner = start(names);
    const after = await append(5);
    await advanced(runner, names, after[4]!);
    expect(await seen(names[0]!)).toEqual([...before, ...after]);
    expect(await seen(names[1]!)).toEqual([...before.slice(4), ...after]);
    expect(await seen(names[2]!)).toEqual(after);
    for (const name of names) expect(await stored(name)).toBe(after[4]);
    expect(runner.status()).toEqual(
      names.map((projection) =>
        expect.objectContaining({ projection, active: true, checkpoint: after[4], failed: undefined }),
      ),
    );
  });

  it('sends a batch, its checkpoints and its COMMIT in one query', async () => {
    const names = await group([await head(), await head()]);
    const runner = start(names);
    await advanced(runner, names, await head());
    const sent = recordQueries(pool);
    try {
      const [position] = await append(3);
      await advanced(runner, names, position! + 2n);
    } finally {
      sent.stop();
    }
    expect(sent.texts).toHaveLength(1);
    expect(sent.texts[0]).toMatch(/^BEGIN;[\s\S]*projections\.checkpoints[\s\S]*;\nCOMMIT$/);
  });

  it('restarts the whole group from the stored checkpoints when one checkpoint moved under it', async () => {
    const start0 = await head();
    const names = await group([start0, start0, start0]);
    const warnings: unknown[] = [];
    const runner = start(names, { ...quiet(), warn: (o: object) => warnings.push((o as { err: unknown }).err) });
    const [settled] = await append(1);
    await advanced(runner, names, settled!);
    // As if another runner had applied the next position of names[1] meanwhile.
    await pool.query('UPDATE projections.checkpoints SET position = $1 WHERE projection = $2', [
      String(settled! + 1n),
      names[1],
    ]);
    const next = await append(2);
    expect(next).toEqual([settled! + 1n, settled! + 2n]);
    await advanced(runner, names, next[1]!);
    expect(warnings.some((e) => e instanceof FencedOffError)).toBe(true);
    // The fenced batch was rolled back for all: nobody got a position twice.
    expect(await seen(names[0]!)).toEqual([settled!, ...next]);
    expect(await seen(names[1]!)).toEqual([settled!, next[1]!]);
    expect(await seen(names[2]!)).toEqual([settled!, ...next]);
  });

  it('stops a projection that breaks a row-count promise for good, and the others go on', async () => {
    const start0 = await head();
    const names = await group([start0, start0, start0]);
    const failures: ProjectionAssertionError[] = [];
    const logged: object[] = [];
    const runner = start(names, { ...quiet(), error: (o: object) => logged.push(o) }, names[1]);
    runner.onFailed((error) => failures.push(error));
    const [poison] = await append(1, 'Poison');
    await until(() => failures.length > 0);
    expect(failures[0]).toBeInstanceOf(ProjectionAssertionError);
    expect(failures[0]!.projection).toBe(names[1]);
    const statuses = runner.status();
    expect(statuses[1]).toMatchObject({ projection: names[1], active: false, checkpoint: start0 });
    expect(statuses[1]!.failed).toMatch(/expected 2 row\(s\), changed 1: UPDATE test_runner\.seen SET position/);
    expect(statuses.filter((s) => s.failed)).toHaveLength(1);
    expect(logged).toEqual([expect.objectContaining({ projection: names[1] })]);
    const [later] = await append(1);
    await advanced(runner, [names[0]!, names[2]!], later!);
    // The failed batch was rolled back whole: the others got the poison once (after the restart),
    // the failed projection not at all, and its checkpoint stayed where it was.
    expect(await seen(names[0]!)).toEqual([poison, later]);
    expect(await seen(names[1]!)).toEqual([]);
    expect(await seen(names[2]!)).toEqual([poison, later]);
    expect(await stored(names[1]!)).toBe(start0);
  });

  it('stays in standby while another runner holds the lock of one of its projections, then takes them all', async () => {
    const start0 = await head();
    const names = await group([start0, start0, start0]);
    const single = new ProjectionRunner({
      pool,
      connectionString: url,
      store,
      projections: [recorder(names[1]!)],
      log: quiet(),
    });
    const abortSingle = new AbortController();
    const runningSingle = single.run(abortSingle.signal);
    try {
      await until(() => single.status()[0]!.active);
      const runner = start(names);
      await until(() => runner.status().every((s) => s.standby));
      const [first] = await append(1);
      await advanced(single, [names[1]!], first!);
      expect(runner.status().every((s) => s.standby && !s.active)).toBe(true);
      expect(await stored(names[0]!)).toBe(start0);
      abortSingle.abort();
      await runningSingle;
      const [second] = await append(1);
      await advanced(runner, names, second!);
      expect(await seen(names[0]!)).toEqual([first, second]);
      expect(await seen(names[1]!)).toEqual([first, second]);
      expect(await seen(names[2]!)).toEqual([first, second]);
    } finally {
      abortSingle.abort();
      await runningSingle;
    }
  });

  async function head(): Promise<bigint> {
    return store.headPosition();
  }
});

function quiet(): RunnerLog {
  return { info: () => undefined, warn: () => undefined, error: (o, m) => console.log(m, o) };
}

/** Resolves once every named projection of the runner has applied `position` (checked on each advance). */
function advanced(runner: ProjectionRunner, names: readonly string[], position: bigint): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const statuses = runner.status().filter((s) => names.includes(s.projection));
      const failed = statuses.find((s) => s.failed);
      if (failed) done(new Error(`${failed.projection} failed: ${failed.failed}`));
      else if (statuses.every((s) => s.checkpoint >= position)) done();
    };
    const offAdvance = runner.onAdvance(check);
    const offFailed = runner.onFailed(check);
    const timer = setTimeout(() => done(new Error(`not advanced to ${position} in time`)), 10_000);
    function done(error?: Error): void {
      clearTimeout(timer);
      offAdvance();
      offFailed();
      if (error) reject(error);
      else resolve();
    }
    check();
  });
}

/** The texts sent on clients checked out of `pool` (the runner's transactions) until `stop`. */
function recordQueries(pool: pg.Pool): { texts: string[]; stop(): void } {
  const texts: string[] = [];
  const original = pool.connect;
  const connect = original.bind(pool) as (callback?: unknown) => Promise<pg.PoolClient> | undefined;
  let recording = true;
  pool.connect = ((callback?: unknown) => {
    // pg's own pool.query checks out with a callback: not a runner's transaction.
    if (callback) return connect(callback);
    return (async () => {
      const client = (await connect())!;
      const { query, release } = client;
      client.query = ((...args: unknown[]) => {
        if (recording) texts.push(String(args[0]));
        return (query as (...a: unknown[]) => unknown).apply(client, args);
      }) as typeof query;
      client.release = (...args: Parameters<typeof release>) => {
        client.query = query;
        client.release = release;
        return release.apply(client, args);
      };
      return client;
    })();
  }) as typeof pool.connect;
  return {
    texts,
    stop: () => {
      recording = false;
      pool.connect = original;
    },
  };
}

/** Waits for a condition that a background loop makes true, by yielding to it (no fixed sleeps). */
async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setImmediate(resolve));
  }
}
