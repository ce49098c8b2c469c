/**
 * Rebuilds projections from position zero into fresh tables and swaps them
 * in, while the service keeps serving and its projector keeps running.
 *
 *   npm run projections:rebuild                      # every projection
 *   npm run projections:rebuild -- -p ledger_entries # one
 */
import { join } from 'node:path';
import { Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import pg from 'pg';
import { LEDGER_STREAM_PREFIXES } from '@ledger/domain';
import { pino } from 'pino';
import { KurrentDbEventStore, PostgresEventStore, type EventStore } from '@ledger/event-store';
import {
  MigrationHistoryError,
  runningOwner,
  migrate,
  startEmbeddedPostgres,
  type RunningPostgres,
} from '@ledger/platform';
import { PROJECTIONS, projectionMigrations, rebuildProjection } from '@ledger/projections';
import { ensureDatabase, loadConfig } from '@ledger/ledger-api';

const program = new Command()
  .name('projections:rebuild')
  .description('Rebuild read models from position zero, then swap them in')
  .option('-p, --projection <name...>', `projections to rebuild (${PROJECTIONS.map((p) => p.name).join(', ')})`)
  .parse();

async function main(): Promise<void> {
  const config = loadConfig();
  const log = pino({ level: config.logLevel, name: 'rebuild' });
  const names: string[] = program.opts<{ projection?: string[] }>().projection ?? PROJECTIONS.map((p) => p.name);
  const unknown = names.filter((name) => !PROJECTIONS.some((p) => p.name === name));
  if (unknown.length > 0) throw new Error(`unknown projection(s): ${unknown.join(', ')}`);

  const { url, embedded } = await database(config.databaseUrl, join(config.dataDir, 'postgres'));
  const pool = new pg.Pool({ connectionString: url });
  const store: EventStore =
    config.eventStore === 'kurrentdb'
      ? await KurrentDbEventStore.connect({
          connectionString: config.eventStoreConnectionString!,
          streamPrefixes: LEDGER_STREAM_PREFIXES,
        })
      : await PostgresEventStore.connect({ connectionString: url });
  try {
    await migrate(pool, projectionMigrations);
    for (const name of names) {
      const projection = PROJECTIONS.find((p) => p.name === name)!;
      const bar = new SingleBar(
        { format: `${name.padEnd(16)} {bar} {percentage}% | {value}/{total} positions | {events} events` },
        Presets.shades_classic,
      );
      bar.start(1, 0, { events: 0 });
      const started = performance.now();
      const result = await rebuildProjection({
        pool,
        store,
        projection,
        onProgress: ({ position, target, events }) => {
          bar.setTotal(Number(target));
          bar.update(Number(position), { events });
        },
      });
      bar.stop();
      const seconds = (performance.now() - started) / 1000;
      log.info(
        { projection: name, events: result.events, position: Number(result.position), seconds },
        'rebuilt and swapped in',
      );
    }
  } finally {
    await store.close();
    await pool.end();
    await embedded?.stop();
  }
}

/** DATABASE_URL; else the embedded server a running service owns; else one started for this run. */
async function database(
  databaseUrl: string | undefined,
  dataDir: string,
): Promise<{ url: string; embedded?: RunningPostgres }> {
  if (databaseUrl) return { url: databaseUrl };
  const owner = await runningOwner(dataDir);
  if (owner) return { url: await ensureDatabase(owner, 'ledger') };
  const embedded = await startEmbeddedPostgres({ dataDir });
  return { url: await ensureDatabase(embedded, 'ledger'), embedded };
}

main().catch((error: unknown) => {
  process.stderr.write(`rebuild failed: ${(error as Error).message}\n`);
  // As the service: a schema that disagrees with its migration files is not worth a retry.
  process.exit(error instanceof MigrationHistoryError ? 2 : 1);
});
