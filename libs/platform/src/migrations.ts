import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Pool, PoolClient } from 'pg';

/**
 * A component (event store, projections, ...) owns its own sequence of migrations:
 * the `NNNN_name.sql` files of one folder, applied in order, once. An applied file
 * is history: it is never edited, a change is a new file.
 */
export interface MigrationSet {
  component: string;
  /** The folder of the component's `NNNN_name.sql` files, e.g. `new URL('./migrations/', import.meta.url)`. */
  folder: URL;
  /**
   * The versions applied before checksums were kept, by the name the old code
   * recorded for each. Only such a row may be given its file's checksum on first
   * sight; any other row without one is history this code cannot vouch for.
   */
  recordedBeforeChecksums?: Readonly<Record<number, string>>;
}

/** One versioned schema change, as read from its file. */
export interface Migration {
  version: number;
  /** The file's name without `NNNN_` and `.sql`. */
  name: string;
  /** The file's name without `.sql`, e.g. `0002_append_group`: how errors name it. */
  file: string;
  sql: string;
  /** sha256 of the file's bytes, hex. */
  checksum: string;
}

/**
 * The database and the migration files disagree: an applied file was changed, or
 * the database has a migration this code has no file for. The start must stop:
 * running on would mean a schema nobody can rebuild from the files.
 */
export class MigrationHistoryError extends Error {
  override readonly name = 'MigrationHistoryError';
}

// Any fixed 64-bit key works; it only has to differ from the other advisory locks we take.
const MIGRATION_LOCK_KEY = 7_245_001n;
const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/** The set's files, checked: well named, numbered 1, 2, 3, ... without a gap or a repeat. */
export async function readMigrations(set: MigrationSet): Promise<Migration[]> {
  const folder = fileURLToPath(set.folder);
  const files = (await readdir(folder)).filter((f) => f.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const [i, fileName] of files.entries()) {
    const match = FILE_NAME.exec(fileName);
    if (!match) {
      throw new Error(`${set.component}: ${fileName} in ${folder} is not named NNNN_name.sql (lower case, digits, _)`);
    }
    const version = Number(match[1]);
    if (version !== i + 1) {
      throw new Error(`${set.component}: ${fileName} in ${folder} has version ${version}, expected ${i + 1}`);
    }
    const bytes = await readFile(join(folder, fileName));
    migrations.push({
      version,
      name: match[2]!,
      file: fileName.slice(0, -'.sql'.length),
      sql: bytes.toString('utf8'),
      checksum: createHash('sha256').update(bytes).digest('hex'),
    });
  }
  return migrations;
}

/**
 * Applies the set's pending migrations, each in its own transaction, under an
 * advisory lock so replicas starting together don't race. First every applied
 * one is compared with its file (MigrationHistoryError when they differ).
 * Returns the versions applied.
 */
export async function migrate(pool: Pool, set: MigrationSet): Promise<number[]> {
  const migrations = await readMigrations(set);
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
    try {
      await ensureHistoryTable(client);
      const applied = await appliedMigrations(client, set.component);
      await checkHistory(client, set, migrations, applied);
      const done: number[] = [];
      for (const migration of migrations) {
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

async function ensureHistoryTable(client: PoolClient): Promise<void> {
  await client.query(`CREATE TABLE IF NOT EXISTS public.ledger_migrations (
    component text NOT NULL,
    version integer NOT NULL,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    checksum text,
    PRIMARY KEY (component, version))`);
  // Databases migrated before checksums were kept have the table without the column.
  await client.query('ALTER TABLE public.ledger_migrations ADD COLUMN IF NOT EXISTS checksum text');
}

interface AppliedRow {
  version: number;
  name: string;
  checksum: string | null;
}

async function appliedMigrations(client: PoolClient, component: string): Promise<Map<number, AppliedRow>> {
  const { rows } = await client.query<AppliedRow>(
    'SELECT version, name, checksum FROM public.ledger_migrations WHERE component = $1 ORDER BY version',
    [component],
  );
  return new Map(rows.map((r) => [r.version, r]));
}

/**
 * Every applied migration must still be its file. A row without a checksum was
 * applied before checksums were kept, from the text the file froze: if the set
 * names that version with the name the old code recorded, it gets the file's
 * checksum now and is held to it from then on; otherwise the start stops.
 */
async function checkHistory(
  client: PoolClient,
  set: MigrationSet,
  migrations: readonly Migration[],
  applied: ReadonlyMap<number, AppliedRow>,
): Promise<void> {
  const { component } = set;
  for (const row of applied.values()) {
    const migration = migrations[row.version - 1];
    if (!migration) {
      throw new MigrationHistoryError(
        `${component} migration ${String(row.version).padStart(4, '0')} (${row.name}) is applied but has no file: the database is newer than this code`,
      );
    }
    if (row.checksum === null) {
      if (set.recordedBeforeChecksums?.[row.version] !== row.name) {
        throw new MigrationHistoryError(
          `${component} migration ${migration.file} was applied without a checksum as "${row.name}", which is not a migration this code knows from before checksums`,
        );
      }
      await client.query('UPDATE public.ledger_migrations SET checksum = $3 WHERE component = $1 AND version = $2', [
        component,
        row.version,
        migration.checksum,
      ]);
    } else if (row.checksum !== migration.checksum) {
      throw new MigrationHistoryError(`${component} migration ${migration.file} changed after it was applied`);
    }
  }
}

async function applyOne(client: PoolClient, component: string, migration: Migration): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query(migration.sql);
    await client.query(
      'INSERT INTO public.ledger_migrations (component, version, name, checksum) VALUES ($1, $2, $3, $4)',
      [component, migration.version, migration.name, migration.checksum],
    );
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw new Error(`${component} migration ${migration.file} failed`, { cause: error });
  }
}
