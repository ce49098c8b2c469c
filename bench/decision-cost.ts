/**
 * Decision cost against stream length: a debit on an account with 10 events
 * and one with 100,000, through the whole command path (HTTP inject, load,
 * decide, append), measured alternately in the same run; plus a cold load
 * (a new process's first decision) of both, which starts from a snapshot.
 *
 *   npm run bench:decision [-- --events 100000 --samples 400]
 */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { ACCOUNT_STATES, createApp, loadConfig, openRuntime } from '@ledger/ledger-api';
import { accountStream } from '@ledger/domain';
import { benchDatabase, formatRow } from './support.js';

const argument = (name: string, fallback: number) => {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? Number(process.argv[index + 1]) : fallback;
};
const LARGE_EVENTS = argument('events', 100_000);
const SAMPLES = argument('samples', 400);
const BATCH = 1000;
const KEY = 'bench-admin-key-0123456789';

async function main(): Promise<void> {
  const database = await benchDatabase();
  const url = await database.createDatabase('bench_decision');
  const runtime = await openRuntime(loadConfig({ DATABASE_URL: url, LOG_LEVEL: 'warn' }), () => undefined);
  const app = await createApp({
    runtime,
    apiKeys: [{ name: 'bench', secret: KEY, scopes: ['admin'] }],
    requestLogging: false,
  });
  try {
    const accounts = { small: `small-${randomUUID()}`, large: `large-${randomUUID()}` };
    await seed(runtime.eventStore, accounts.small, 10);
    await seed(runtime.eventStore, accounts.large, LARGE_EVENTS);

    const debit = async (accountId: string) => {
      const started = performance.now();
      const response = await app.inject({
        method: 'POST',
        url: `/v1/accounts/${accountId}/debits`,
        headers: { authorization: `Bearer ${KEY}`, 'idempotency-key': randomUUID() },
        payload: { amount: 1, reason: 'bench' },
      });
      if (response.statusCode !== 201) throw new Error(`debit answered ${response.statusCode}: ${response.body}`);
      return performance.now() - started;
    };
    // The first decision of each folds its stream (and snapshots the large one): reported apart.
    const firstFold = { small: await debit(accounts.small), large: await debit(accounts.large) };
    log(`measuring ${SAMPLES} debits on each, alternating ...`);
    const warm = { small: [] as number[], large: [] as number[] };
    for (let i = 0; i < SAMPLES; i++) {
      warm.small.push(await debit(accounts.small));
      warm.large.push(await debit(accounts.large));
    }
    // A cold decision: the stream is not in memory (another replica, a restart), so the
    // load starts from the latest snapshot and reads the events after it.
    const cache = app.get<{ forget(stream: string): void }>(ACCOUNT_STATES);
    const cold = { small: [] as number[], large: [] as number[] };
    for (let i = 0; i < SAMPLES / 4; i++) {
      for (const size of ['small', 'large'] as const) {
        cache.forget(accountStream(accounts[size]));
        cold[size].push(await debit(accounts[size]));
      }
    }
    const rows = {
      small: summary(warm.small),
      large: summary(warm.large),
      coldSmall: summary(cold.small),
      coldLarge: summary(cold.large),
      coldRatioP50: summary(cold.large).p50Ms / summary(cold.small).p50Ms,
      firstFoldMs: firstFold,
      ratioP50: summary(warm.large).p50Ms / summary(warm.small).p50Ms,
      ratioMean: summary(warm.large).meanMs / summary(warm.small).meanMs,
    };
    const widths = [22, 10, 10, 10, 16];
    console.log(formatRow(['account', 'p50 ms', 'p99 ms', 'mean ms', 'first fold ms'], widths));
    for (const size of ['small', 'large'] as const) {
      const s = rows[size];
      console.log(
        formatRow(
          [
            `${size === 'small' ? 10 : LARGE_EVENTS} events`,
            s.p50Ms.toFixed(2),
            s.p99Ms.toFixed(2),
            s.meanMs.toFixed(2),
            firstFold[size].toFixed(1),
          ],
          widths,
        ),
      );
    }
    for (const size of ['small', 'large'] as const) {
      const s = size === 'small' ? rows.coldSmall : rows.coldLarge;
      console.log(
        formatRow(
          [
            `cold, ${size === 'small' ? 10 : LARGE_EVENTS} events`,
            s.p50Ms.toFixed(2),
            s.p99Ms.toFixed(2),
            s.meanMs.toFixed(2),
            '-',
          ],
          widths,
        ),
      );
    }
    console.log(
      `ratio ${LARGE_EVENTS} / 10 events: warm p50 ${rows.ratioP50.toFixed(2)}x, mean ${rows.ratioMean.toFixed(2)}x; cold p50 ${rows.coldRatioP50.toFixed(2)}x`,
    );
    await writeFile(
      'bench/results/decision-cost.json',
      JSON.stringify({ at: new Date().toISOString(), largeEvents: LARGE_EVENTS, samples: SAMPLES, ...rows }, null, 2),
    );
  } finally {
    await app.close();
    await runtime.close();
    await database.close();
  }
}

async function seed(store: import('@ledger/event-store').EventStore, accountId: string, count: number): Promise<void> {
  let revision: bigint | 'no_stream' = 'no_stream';
  for (let done = 0; done < count; done += BATCH) {
    const size = Math.min(BATCH, count - done);
    const events = Array.from({ length: size }, () => ({
      id: randomUUID(),
      type: 'CreditsGranted',
      data: { amount: 1000, source: 'purchase' },
    }));
    const result = await store.append([{ streamName: accountStream(accountId), expectedRevision: revision, events }]);
    revision = result.streams[0]!.nextRevision;
    if (count >= 10_000 && (done / BATCH) % 20 === 0) log(`seeding ${accountId}: ${done + size}/${count}`);
  }
}

function summary(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { p50Ms: at(0.5), p99Ms: at(0.99), meanMs: samples.reduce((a, b) => a + b, 0) / samples.length };
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
