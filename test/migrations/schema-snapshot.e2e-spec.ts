import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { eventStoreMigrations } from '@ledger/event-store';
import { ledgerApiMigrations } from '@ledger/ledger-api';
import { migrate, type MigrationSet } from '@ledger/platform';
import { projectionMigrations } from '@ledger/projections';
import { createTestDatabase } from '@ledger/test-support';
import { dumpSchema } from './schema-dump.js';

/**
 * Each library's schema after all its migrations, compared with the snapshot
 * committed beside its migration files: a new migration changes the snapshot
 * in the same commit, so a reviewer reads what it does to a deployed database.
 * UPDATE_SCHEMA_SNAPSHOTS=1 rewrites the snapshots instead of comparing.
 */
const LIBRARIES: { set: MigrationSet; schema: string; alsoSchemas?: string[] }[] = [
  { set: eventStoreMigrations, schema: 'event_store' },
  { set: ledgerApiMigrations, schema: 'ledger_api' },
  // The projections' migrations also make the reporting views.
  { set: projectionMigrations, schema: 'projections', alsoSchemas: ['reporting'] },
];

describe('schema snapshots', () => {
  it.each(LIBRARIES)(
    '$schema: the schema after all migrations is the committed snapshot',
    async ({ set, schema, alsoSchemas = [] }) => {
      const pool = new pg.Pool({ connectionString: await createTestDatabase(`snapshot_${schema}`) });
      try {
        await migrate(pool, set);
        const dumps: string[] = [];
        for (const name of [schema, ...alsoSchemas]) dumps.push(await dumpSchema(pool, name));
        const actual = dumps.join('\n');
        const file = fileURLToPath(new URL('schema.snapshot.txt', set.folder));
        if (process.env.UPDATE_SCHEMA_SNAPSHOTS === '1') await writeFile(file, actual);
        expect(actual).toBe(await readFile(file, 'utf8'));
      } finally {
        await pool.end();
      }
    },
  );
});
