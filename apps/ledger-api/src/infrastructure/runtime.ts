import { join } from 'node:path';
import pg from 'pg';
import { LEDGER_STREAM_PREFIXES } from '@ledger/domain';
import { KurrentDbEventStore, PostgresEventStore, type EventStore } from '@ledger/event-store';
import { EmbeddedPostgresInUseError, migrate, startEmbeddedPostgres, type RunningPostgres } from '@ledger/platform';
import { ledgerApiMigrations } from '../commands/snapshot.store.js';
import { ConfigError, type LedgerConfig } from '../config/ledger-config.js';
import { ledgerMetrics } from '../metrics/metrics.js';

/**
 * The stores the service runs on, connected before Nest starts so that a
 * missing database fails the start with a clear message, not a 500 later.
 */
export interface LedgerRuntime {
  config: LedgerConfig;
  eventStore: EventStore;
  /** Postgres for projections (and the event store when it is Postgres). */
  pool: pg.Pool;
  databaseUrl: string;
  /** Set when the embedded PostgreSQL was started for this process. */
  embedded: RunningPostgres | undefined;
  close(): Promise<void>;
}

const EMBEDDED_DATABASE = 'ledger';

export async function openRuntime(config: LedgerConfig, log: (message: string) => void): Promise<LedgerRuntime> {
  let embedded: RunningPostgres | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    embedded = await startEmbedded(join(config.dataDir, 'postgres'));
    databaseUrl = await ensureDatabase(embedded, EMBEDDED_DATABASE);
    log(`embedded PostgreSQL started on port ${embedded.port}, data in ${join(config.dataDir, 'postgres')}`);
  }
  try {
    const eventStore =
      config.eventStore === 'kurrentdb'
        ? await KurrentDbEventStore.connect({
            connectionString: config.eventStoreConnectionString!,
            // idem- too: projections skip the records, but their checkpoints must pass them (read-your-writes).
            streamPrefixes: LEDGER_STREAM_PREFIXES,
          })
        : await PostgresEventStore.connect({
            connectionString: databaseUrl,
            poolSize: 20,
            onAppendGroup: (size, outcome) => ledgerMetrics.appendGroupSize.observe({ outcome }, size),
          });
    const pool = new pg.Pool({
      connectionString: databaseUrl,
      max: 10,
      connectionTimeoutMillis: 5_000,
      statement_timeout: 60_000,
    });
    pool.on('error', () => undefined);
    await migrate(pool, ledgerApiMigrations);
    return {
      // The database in use, embedded or not, is what the rest of the service connects to.
      config: { ...config, databaseUrl },
      eventStore,
      pool,
      databaseUrl,
      embedded,
      async close() {
        await eventStore.close();
        await pool.end();
        await embedded?.stop();
      },
    };
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
}

async function startEmbedded(dataDir: string): Promise<RunningPostgres> {
  try {
    return await startEmbeddedPostgres({ dataDir });
  } catch (error) {
    if (error instanceof EmbeddedPostgresInUseError) {
      throw new ConfigError(
        `another ledger process (pid ${error.pid}) is running on ${dataDir}; stop it, or set LEDGER_DATA_DIR or DATABASE_URL`,
      );
    }
    throw error;
  }
}

export async function ensureDatabase(postgres: { url: string }, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: postgres.url });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount === 0) await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(postgres.url);
  url.pathname = `/${name}`;
  return url.toString();
}
