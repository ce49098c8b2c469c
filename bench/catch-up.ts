/**
 * Projection catch-up: replays a log of 200,000+ ledger events into empty
 * read models and reports events per second, next to a baseline measured in
 * the same run on the same server: batched multi-row INSERTs of the same
 * number of rows (the least a projection must write). Also reports the CPU
 * this process (the projector, nothing else runs in it meanwhile) spent per
 * event: what catch-up costs the service it runs in.
 *
 *   npm run bench:catch-up [-- --events 200000]
 */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import pg from 'pg';
import { PostgresEventStore, type EventToAppend, type StreamAppend } from '@ledger/event-store';
import { Projector } from '@ledger/projections';
import { benchDatabase } from './support.js';

const argument = (name: string, fallback: number) => {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? Number(process.argv[index + 1]) : fallback;
};
const EVENTS = argument('events', 200_000);
const ACCOUNTS = 2_000;
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

export interface CatchUpResult {
  events: number;
  seconds: number;
  eventsPerSecond: number;
  baselineRowsPerSecond: number;
  ratio: number;
  /** CPU time of this process (user + system) per replayed event. */
  projectorCpuMicrosPerEvent: number;
}

/** Seeds `events` into the empty database at `url`, then times a projector replaying them from zero. */
export async function measureCatchUp(url: string, events: number): Promise<CatchUpResult> {
  const store = await PostgresEventStore.connect({ connectionString: url, poolSize: 4 });
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  // Stopping the embedded server terminates idle connections: not a failure of the measurement.
  pool.on('error', () => undefined);
  try {
    const seeded = await seed(store, events);
    const head = await store.headPosition();
    log(`replaying ${seeded} events into empty read models ...`);
    const projector = new Projector({ pool, connectionString: url, store, log: quiet });
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    await projector.start();
    const progress = setInterval(() => {
      const done = projector.status().reduce((min, s) => (s.checkpoint < min ? s.checkpoint : min), head);
      log(`  ${((Number(done) / Number(head)) * 100).toFixed(0)}%`);
    }, 2_000);
    await projector.caughtUp(head).finally(() => clearInterval(progress));
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    await projector.stop();
    const baseline = await insertBaseline(pool, seeded);
    return {
      events: seeded,
      seconds,
      eventsPerSecond: seeded / seconds,
      baselineRowsPerSecond: baseline,
      ratio: seeded / seconds / baseline,
      projectorCpuMicrosPerEvent: (cpu.user + cpu.system) / seeded,
    };
  } finally {
    await store.close();
    await pool.end();
  }
}

async function main(): Promise<void> {
  const database = await benchDatabase();
  try {
    const result = await measureCatchUp(await database.createDatabase('bench_catch_up'), EVENTS);
    console.log(
      `catch-up: ${result.events} events in ${result.seconds.toFixed(1)} s = ${result.eventsPerSecond.toFixed(0)} events/s; ` +
        `baseline (100-row INSERTs from Node) ${result.baselineRowsPerSecond.toFixed(0)} rows/s; ratio ${result.ratio.toFixed(2)}; ` +
        `projector CPU ${result.projectorCpuMicrosPerEvent.toFixed(1)} µs/event`,
    );
    await writeFile(
      'bench/results/catch-up.json',
      JSON.stringify({ at: new Date().toISOString(), ...result }, null, 2),
    );
  } finally {
    await database.close();
  }
}

/** Grants, and projects that start (with their debit), get claimed and complete or fail (with refunds). */
export async function seed(store: PostgresEventStore, events = EVENTS): Promise<number> {
  let appended = 0;
  const grant: StreamAppend[] = Array.from({ length: ACCOUNTS }, (_, a) => ({
    streamName: `account-a${a}`,
    expectedRevision: 'any',
    events: [event('CreditsGranted', { amount: 1_000_000, source: 'purchase' })],
  }));
  for (let i = 0; i < grant.length; i += 200) appended += await append(store, grant.slice(i, i + 200));
  while (appended < events) {
    const batch: StreamAppend[] = [];
    const refunds: StreamAppend[] = [];
    for (let k = 0; k < 60; k++) {
      const accountId = `a${Math.floor(Math.random() * ACCOUNTS)}`;
      const projectId = randomUUID();
      const cost = 1 + Math.floor(Math.random() * 50);
      const used = Math.floor(Math.random() * (cost + 1));
      const failed = Math.random() < 0.2;
      batch.push(
        {
          streamName: `account-${accountId}`,
          expectedRevision: 'any',
          events: [event('Debited', { amount: cost, projectId, reason: 'project_started' })],
        },
        {
          streamName: `project-${projectId}`,
          expectedRevision: 'no_stream',
          events: [
            event('ProjectStarted', { accountId, cost, deadlineAt: '2030-01-01T00:00:00.000Z' }),
            event('ProjectClaimed', { attempt: 1, workerId: 'w', leaseExpiresAt: '2030-01-01T00:00:00.000Z' }),
            failed
              ? event('ProjectFailed', { attempt: 1, code: 'failed', errorMessage: 'boom' })
              : event('ProjectCompleted', {
                  attempt: 1,
                  creditsUsed: used,
                  assets: { assetUrl: 'https://cdn.test/a' },
                }),
          ],
        },
      );
      // A refund follows its project's end, as in the service: in a later append.
      if (failed || used < cost) {
        refunds.push({
          streamName: `account-${accountId}`,
          expectedRevision: 'any',
          events: [
            event('Refunded', {
              amount: failed ? cost : cost - used,
              projectId,
              reason: failed ? 'project_failed' : 'partial_use',
            }),
          ],
        });
      }
    }
    // One account may appear twice in a batch: merge its events so each stream appears once.
    appended += await append(store, merge(batch));
    if (refunds.length > 0) appended += await append(store, merge(refunds));
    if (appended % 20_000 < 400) log(`seeded ${appended}/${events}`);
  }
  return appended;
}

function merge(batch: StreamAppend[]): StreamAppend[] {
  const byStream = new Map<string, StreamAppend>();
  for (const s of batch) {
    const existing = byStream.get(s.streamName);
    if (existing) existing.events.push(...s.events);
    else byStream.set(s.streamName, { ...s, events: [...s.events] });
  }
  return [...byStream.values()];
}

async function append(store: PostgresEventStore, streams: StreamAppend[]): Promise<number> {
  await store.append(streams);
  return streams.reduce((n, s) => n + s.events.length, 0);
}

function event(type: string, data: Record<string, unknown>): EventToAppend {
  return { id: randomUUID(), type, data };
}

/**
 * The floor: the same number of rows sent from Node as multi-row INSERTs of
 * 100 rows (values on the wire, as a projection must send them), one
 * transaction per 1,000 rows.
 */
export async function insertBaseline(pool: pg.Pool, rows: number): Promise<number> {
  await pool.query(
    'CREATE TABLE bench_baseline (position bigint PRIMARY KEY, account_id text, amount bigint, at timestamptz)',
  );
  const started = performance.now();
  const at = new Date().toISOString();
  for (let done = 0; done < rows; done += 1000) {
    const statements: string[] = [];
    for (let chunk = done; chunk < Math.min(rows, done + 1000); chunk += 100) {
      const values: string[] = [];
      for (let i = chunk; i < Math.min(rows, chunk + 100); i++)
        values.push(`(${i + 1}, 'a${i % 2000}', ${i % 50}, '${at}')`);
      statements.push(`INSERT INTO bench_baseline VALUES ${values.join(', ')}`);
    }
    await pool.query(`BEGIN; ${statements.join('; ')}; COMMIT`);
  }
  return rows / ((performance.now() - started) / 1000);
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
