/**
 * Append throughput of the PostgreSQL event store: single-event appends per
 * second at 1 and 16 concurrent writers, next to the ceiling of the same
 * server measured in the same run (a single-row autocommit INSERT), because
 * these machines are shared and absolute numbers drift.
 *
 *   npm run bench:append [-- --seconds 5]
 */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import pg from 'pg';
import { PostgresEventStore } from '@ledger/event-store';
import { benchDatabase, formatRow, measure, type Measurement } from './support.js';

const CONCURRENCIES = [1, 16];

async function main(): Promise<void> {
  const secondsArg = process.argv.indexOf('--seconds');
  const durationMs = 1000 * (secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 5);
  const database = await benchDatabase();
  const url = await database.createDatabase('bench_append');
  const store = await PostgresEventStore.connect({ connectionString: url, poolSize: 20 });
  const raw = new pg.Pool({ connectionString: url, max: 20 });
  await raw.query('CREATE TABLE IF NOT EXISTS bench_ceiling (id bigserial PRIMARY KEY, stream text, data jsonb)');
  const rows: { writers: number; ceiling: Measurement; append: Measurement }[] = [];
  try {
    for (const writers of CONCURRENCIES) {
      log(`writers=${writers}: raw INSERT ceiling for ${durationMs / 1000}s ...`);
      const ceiling = await measure(writers, durationMs, async (w) => {
        await raw.query('INSERT INTO bench_ceiling (stream, data) VALUES ($1, $2)', [`s-${w}`, '{"amount":1}']);
      });
      log(`writers=${writers}: event store appends for ${durationMs / 1000}s ...`);
      const revisions = new Array<bigint | 'no_stream'>(writers).fill('no_stream');
      const prefix = randomUUID();
      const append = await measure(writers, durationMs, async (w) => {
        const result = await store.append([
          {
            streamName: `account-${prefix}-${w}`,
            expectedRevision: revisions[w]!,
            events: [{ id: randomUUID(), type: 'CreditsGranted', data: { amount: 1, source: 'purchase' } }],
          },
        ]);
        revisions[w] = result.streams[0]!.nextRevision;
      });
      rows.push({ writers, ceiling, append });
    }
  } finally {
    await store.close();
    await raw.end();
    await database.close();
  }
  const widths = [8, 14, 14, 8, 10, 10];
  console.log(formatRow(['writers', 'append/s', 'INSERT/s', 'ratio', 'p50 ms', 'p99 ms'], widths));
  for (const { writers, ceiling, append } of rows) {
    console.log(
      formatRow(
        [
          writers,
          append.perSecond.toFixed(0),
          ceiling.perSecond.toFixed(0),
          (append.perSecond / ceiling.perSecond).toFixed(2),
          append.p50Ms.toFixed(2),
          append.p99Ms.toFixed(2),
        ],
        widths,
      ),
    );
  }
  const file = 'bench/results/append-throughput.json';
  await writeFile(file, JSON.stringify({ at: new Date().toISOString(), durationMs, rows }, null, 2));
  log(`written ${file}`);
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
