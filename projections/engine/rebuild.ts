import pg from 'pg';
import type { EventStore, StoredEvent } from '@ledger/event-store';
import { checkpointsTable } from '../checkpoints/checkpoints.table.js';
import { LIVE_SCHEMA, type Projection, type RowChange } from '../projection.js';
import { batched } from './batches.js';
import { checkedSql, commitChecked, runChecked } from './checked-statements.js';
import { ProjectionAssertionError } from './errors.js';
import { swapLockKey } from './projection-lock.js';

export interface RebuildOptions {
  pool: pg.Pool;
  store: EventStore;
  projection: Projection;
  /** Called after every applied batch. */
  onProgress?: (progress: { position: bigint; target: bigint; events: number }) => void;
  /** false: build the fresh tables and stop before the swap (to compare them with the live ones). */
  swap?: boolean;
  batchSizeMax?: number;
}

export interface RebuildResult {
  schema: string;
  position: bigint;
  events: number;
  swapped: boolean;
}

const BATCH_SIZE_MAX = 2_000;
/** Makes the `reporting` views (migration 0005, replaced by any later one that changes them). */
const REPORTING_VIEWS_FUNCTION = 'reporting.create_views';

/**
 * Rebuilds a projection from position zero into fresh tables in a schema of
 * its own while the live tables keep serving, then swaps them in. The fresh
 * tables follow the log (gap-safe, like the live runner) up to the live
 * checkpoint, never past it; the swap then takes the projection's swap lock
 * exclusively (no live batch in flight), applies what the live runner
 * applied meanwhile, and moves the tables between schemas in one
 * transaction. Checkpoint and rows stay consistent throughout.
 */
export async function rebuildProjection(options: RebuildOptions): Promise<RebuildResult> {
  const { pool, projection } = options;
  const schema = `${LIVE_SCHEMA}_rebuild_${projection.name}`;
  await createFreshTables(pool, schema, projection.tables);
  let position = 0n;
  let events = 0;
  let target = await liveCheckpoint(pool, projection.name);
  const apply = async (client: pg.PoolClient | pg.Pool, batch: readonly StoredEvent[]) => {
    const changes = projection.map(batch, schema);
    if (changes.length > 0) await run(client, changes, projection.name);
    position = batch[batch.length - 1]!.position;
    events += batch.length;
    options.onProgress?.({ position, target, events });
  };

  if (target > 0n) {
    const subscription = options.store.subscribeToAll({ afterPosition: 0n });
    try {
      for await (const batch of batched(subscription, options.batchSizeMax ?? BATCH_SIZE_MAX)) {
        let rest = batch;
        while (rest.length > 0) {
          const upToTarget = rest.filter((event) => event.position <= target);
          if (upToTarget.length > 0) await apply(pool, upToTarget);
          rest = rest.slice(upToTarget.length);
          if (rest.length === 0 && position < target) break;
          // Caught up with where the live runner was; see where it is now.
          const next = await liveCheckpoint(pool, projection.name);
          if (next === target) break;
          target = next;
        }
        // Past the live checkpoint: the swap applies what the runner applies meanwhile.
        if (rest.length > 0 || position >= target) break;
      }
    } finally {
      await subscription.close();
    }
  }
  if (options.swap === false) return { schema, position, events, swapped: false };
  await swapIn(options, schema, position, apply);
  return { schema, position, events, swapped: true };
}

async function swapIn(
  options: RebuildOptions,
  schema: string,
  position: bigint,
  apply: (client: pg.PoolClient, batch: readonly StoredEvent[]) => Promise<void>,
): Promise<void> {
  const { pool, projection, store } = options;
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // Moving the tables needs their exclusive lock: wait for readers a bounded time, not forever.
    await client.query(`SET LOCAL lock_timeout = '10s'`);
    await client.query(`SELECT pg_advisory_xact_lock(${swapLockKey(projection.name)})`);
    const checkpoint = await liveCheckpoint(client, projection.name);
    // The live runner applied these while we caught up; they are final (it saw them).
    for (let after = position; after < checkpoint;) {
      const page = (await store.readAll({ afterPosition: after, limit: 4096 })).filter((e) => e.position <= checkpoint);
      if (page.length === 0) throw new Error(`events up to ${checkpoint} are not readable`);
      await apply(client, page);
      after = page[page.length - 1]!.position;
    }
    const retired = `${LIVE_SCHEMA}_retired_${projection.name}`;
    await client.query(`DROP SCHEMA IF EXISTS ${retired} CASCADE; CREATE SCHEMA ${retired}`);
    for (const table of projection.tables) {
      await client.query(`ALTER TABLE ${LIVE_SCHEMA}.${table} SET SCHEMA ${retired}`);
      await client.query(`ALTER TABLE ${schema}.${table} SET SCHEMA ${LIVE_SCHEMA}`);
    }
    // The retired tables take the reporting views with them: made again on the fresh ones, in this transaction.
    await client.query(`DROP SCHEMA ${schema}; DROP SCHEMA ${retired} CASCADE`);
    await client.query(`SELECT ${REPORTING_VIEWS_FUNCTION}()`);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/**
 * Empty copies of the live tables in `schema`: columns, defaults, constraints and
 * indexes, so the migrations stay the only definition of a table. LIKE names the
 * copied indexes after their columns; each is renamed to its live index's name, so a
 * table swapped in is the one the migrations made (a later migration may name them).
 */
async function createFreshTables(pool: pg.Pool, schema: string, tables: readonly string[]): Promise<void> {
  await pool.query(
    `DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema};
     ${tables.map((table) => `CREATE TABLE ${schema}.${table} (LIKE ${LIVE_SCHEMA}.${table} INCLUDING ALL);`).join('\n')}`,
  );
  for (const table of tables) {
    // An index's definition without its name and its table's: the same for a copy and its original.
    const { rows } = await pool.query<{ copy: string; live: string }>(
      `WITH defined AS (
         SELECT i.indrelid, c.relname,
           regexp_replace(pg_get_indexdef(i.indexrelid), '^(CREATE (UNIQUE )?INDEX )\\S+ ON (ONLY )?\\S+ ', '\\1') AS definition
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
         WHERE i.indrelid IN ($1::regclass, $2::regclass))
       SELECT copy.relname AS copy, live.relname AS live
       FROM defined copy JOIN defined live USING (definition)
       WHERE copy.indrelid = $1::regclass AND live.indrelid = $2::regclass AND copy.relname <> live.relname`,
      [`${schema}.${table}`, `${LIVE_SCHEMA}.${table}`],
    );
    for (const { copy, live } of rows) {
      await pool.query(`ALTER INDEX ${schema}.${pg.escapeIdentifier(copy)} RENAME TO ${pg.escapeIdentifier(live)}`);
    }
  }
}

async function liveCheckpoint(client: pg.Pool | pg.PoolClient, projection: string): Promise<bigint> {
  const position = (await checkpointsTable.positions(client, [projection])).get(projection);
  if (position === undefined) {
    throw new ProjectionAssertionError(projection, `no checkpoint row for projection ${projection}`);
  }
  return position;
}

/** A batch of the rebuild: its own transaction, or a part of the swap's (`client`); row counts checked inside. */
async function run(client: pg.Pool | pg.PoolClient, changes: readonly RowChange[], name: string): Promise<void> {
  const sql = checkedSql(changes.map((change) => ({ owner: `${name} rebuild`, change })));
  if ('release' in client) await runChecked(client, sql);
  else await commitChecked(client, sql);
}

/** Rows in one table and not in the other, both ways (0 and 0: identical). */
export async function compareTables(
  pool: pg.Pool,
  table: string,
  leftSchema: string,
  rightSchema: string,
): Promise<{ onlyLeft: number; onlyRight: number }> {
  const count = async (a: string, b: string) => {
    const { rows } = await pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM (SELECT * FROM ${a}.${table} EXCEPT ALL SELECT * FROM ${b}.${table}) d`,
    );
    return Number(rows[0]!.n);
  };
  return { onlyLeft: await count(leftSchema, rightSchema), onlyRight: await count(rightSchema, leftSchema) };
}
