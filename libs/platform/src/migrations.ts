import type { Pool, PoolClient } from 'pg';

/** One versioned schema change. Versions of a component are applied in order, once. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** A component (event store, projections, ...) owns its own sequence of migrations. */
export interface MigrationSet {
  component: string;
  migrations: readonly Migration[];
}

// Any fixed 64-bit key works; it only has to differ from the other advisory locks we take.
const MIGRATION_LOCK_KEY = 7_245_001n;

/**
 * Applies the set's pending migrations, each in its own transaction, under an
 * advisory lock so replicas starting together don't race. Returns the versions applied.
 */
export async function migrate(pool: Pool, set: MigrationSet): Promise<number[]> {
  assertOrdered(set);
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS public.ledger_migrations (
        component text NOT NULL,
        version integer NOT NULL,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (component, version))`);
      const applied = await appliedVersions(client, set.component);
      const done: number[] = [];
      for (const migration of set.migrations) {
        if (applied.has(migration.version)) continue;
        await applyOne(client, set.component, migration);
        done.push(migration.version);
      }
      return done;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY.toString()]);
    }
  } finally {
    client.release();
  }
}

async function appliedVersions(client: PoolClient, component: string): Promise<Set<number>> {
  const { rows } = await client.query<{ version: number }>(
    'SELECT version FROM public.ledger_migrations WHERE component = $1',
    [component],
  );
  return new Set(rows.map((r) => r.version));
}

async function applyOne(client: PoolClient, component: string, migration: Migration): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query(migration.sql);
    await client.query('INSERT INTO public.ledger_migrations (component, version, name) VALUES ($1, $2, $3)', [
      component,
      migration.version,
      migration.name,
    ]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw new Error(`migration ${component} v${migration.version} (${migration.name}) failed`, { cause: error });
  }
}

function assertOrdered(set: MigrationSet): void {
  set.migrations.forEach((m, i) => {
    if (m.version !== i + 1)
      throw new Error(`${set.component}: migration #${i} has version ${m.version}, expected ${i + 1}`);
  });
}
