/**
 * Continuous reconciliation on a large log (`npm run bench -- --reconciliation [--quick]
 * [--reconciliation-events 1000000]`, and a part of the full bench). A log of
 * `events` events is seeded and caught up by the projector (bench/scale.ts), then:
 *
 *   1. the service starts on it and its checker folds the whole log from its checkpoint 0:
 *      its events per second (from the service being ready to the checker at the head);
 *   2. GET /v1/audit/reconciliation, answered from the checker's findings: the time of one
 *      call (median of several; target under 100 ms);
 *   3. start load (16 connections) on the same service: the log's events per second then,
 *      against the checker's, and the checker's lag at the end of the load (it keeps up
 *      when its rate is above the log's and the lag stays small).
 */
import pg from 'pg';
import { PostgresEventStore } from '@ledger/event-store';
import { ledgerApiMigrations } from '@ledger/ledger-api';
import { migrate } from '@ledger/platform';
import { load, type LoadResult } from './load.js';
import { prepare } from './scale.js';
import { BENCH_KEY, seedAccounts, startService, type BenchService } from './service.js';

export interface ReconciliationFigures {
  events: number;
  /** From starting the service to /health/ready, and where the checker was then. */
  readySeconds: number;
  checkedAtReady: number;
  /** The checker folding the rest of the log, after the service is ready. */
  checkerEventsPerSecond: number;
  checkerSeconds: number;
  /** One endpoint call, answered from the findings. */
  callP50Ms: number;
  callMaxMs: number;
  clean: boolean;
  start: LoadResult;
  /** The log's growth under the start load. */
  logEventsPerSecond: number;
  /** Events between the head and the checker's position when the load ended, and the time it took to reach the head then. */
  lagAtEndEvents: number;
  catchUpAfterLoadMs: number;
}

const CALLS = 9;
const POLL_MS = 50;

export async function measureReconciliation(
  url: string,
  events: number,
  loadSeconds: number,
): Promise<ReconciliationFigures> {
  const prepared = await prepare(url, events);
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on('error', () => undefined);
  const store = await PostgresEventStore.connect({ connectionString: url, poolSize: 1 });
  let service: BenchService | undefined;
  try {
    const head = () => store.headPosition();
    // The outbound dispatcher would catch up on the whole log too (a cost of its own, measured
    // in its own scenario): it starts at the head, so the figures are the checker's.
    await migrate(pool, ledgerApiMigrations);
    await pool.query(
      `INSERT INTO ledger_api.outbound_checkpoint (id, position) VALUES (1, $1)
       ON CONFLICT (id) DO UPDATE SET position = EXCLUDED.position`,
      [(await head()).toString()],
    );
    const starting = performance.now();
    // Its checker catches up on the whole log from the start (the rest of the service waits on nothing).
    service = await startService({ databaseUrl: url, readyTimeoutMs: 1_800_000 });
    const ready = performance.now();
    const readySeconds = (ready - starting) / 1000;
    const from = await checked(pool);
    log(`  the service was ready after ${readySeconds.toFixed(1)} s, the checker at ${from}`);
    const target = await head();
    const checkerMs = await until(async () => (await checked(pool)) >= target, 3_600_000);
    const checkerEventsPerSecond = Number(target - from) / (checkerMs / 1000);
    log(
      `  the checker folded ${target - from} events in ${(checkerMs / 1000).toFixed(1)} s (${checkerEventsPerSecond.toFixed(0)}/s; ` +
        `${((performance.now() - ready) / 1000).toFixed(1)} s since ready)`,
    );
    const calls: number[] = [];
    let clean = true;
    for (let i = 0; i < CALLS; i++) {
      const started = performance.now();
      const report = await call(service);
      calls.push(performance.now() - started);
      clean &&= report.mismatchCount === 0 && report.violationCount === 0;
    }
    calls.sort((a, b) => a - b);
    log(`  one call: p50 ${calls[CALLS >> 1]!.toFixed(1)} ms, max ${calls.at(-1)!.toFixed(1)} ms; clean: ${clean}`);
    await seedAccounts(service);
    const before = await head();
    const loadStarted = performance.now();
    const start = await load(service.url, 'start', 16, loadSeconds, { accounts: 1000 });
    const loadMs = performance.now() - loadStarted;
    const after = await head();
    const lagAtEndEvents = Number(after - (await checked(pool)));
    const catchUpAfterLoadMs = await until(async () => (await checked(pool)) >= after, 600_000);
    const logEventsPerSecond = Number(after - before) / (loadMs / 1000);
    log(
      `  start load: ${start.perSecond.toFixed(0)} starts/s, the log grew ${logEventsPerSecond.toFixed(0)} events/s; ` +
        `the checker was ${lagAtEndEvents} events behind at the end, at the head ${catchUpAfterLoadMs.toFixed(0)} ms later`,
    );
    return {
      events: prepared.events,
      readySeconds,
      checkedAtReady: Number(from),
      checkerEventsPerSecond,
      checkerSeconds: checkerMs / 1000,
      callP50Ms: calls[CALLS >> 1]!,
      callMaxMs: calls.at(-1)!,
      clean,
      start,
      logEventsPerSecond,
      lagAtEndEvents,
      catchUpAfterLoadMs,
    };
  } finally {
    await service?.stop();
    await store.close();
    await pool.end();
  }
}

/** Where the checker has compared up to (0 before its first batch). */
async function checked(pool: pg.Pool): Promise<bigint> {
  const { rows } = await pool.query<{ p: string }>(
    'SELECT compared_position AS p FROM ledger_api.reconciliation_checkpoint WHERE id = 1',
  );
  return BigInt(rows[0]?.p ?? 0);
}

async function call(service: BenchService): Promise<{ mismatchCount: number; violationCount: number }> {
  const response = await fetch(`${service.url}/v1/audit/reconciliation`, {
    headers: { authorization: `Bearer ${BENCH_KEY}` },
  });
  if (response.status !== 200) throw new Error(`reconciliation: ${response.status} ${await response.text()}`);
  return (await response.json()) as { mismatchCount: number; violationCount: number };
}

/** Polls `check` until it holds (milliseconds taken); throws after `boundMs`. */
async function until(check: () => Promise<boolean>, boundMs: number): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await check().catch(() => false)) return performance.now() - started;
    if (performance.now() - started > boundMs) throw new Error(`not within ${boundMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function log(message: string): void {
  process.stdout.write(`${message}\n`);
}
