import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { eventStoreMigrations, PostgresEventStore, VersionConflictError } from '@ledger/event-store';
import { ledgerApiMigrations } from '@ledger/ledger-api';
import { migrate, readMigrations, type MigrationSet } from '@ledger/platform';
import { projectionMigrations } from '@ledger/projections';
import { createTestDatabase } from '@ledger/test-support';
import { dumpSchema } from './schema-dump.js';

// What the migrations since bdd52f2 add: new tables, and a checkpoint row for each new projection.
const NEW_TABLES = [
  'ledger_api.api_key_registry',
  'projections.lots',
  'ledger_api.outbound_accounts',
  'ledger_api.outbound_attempts',
  'ledger_api.outbound_checkpoint',
  'ledger_api.outbound_deliveries',
  'ledger_api.outbound_endpoints',
  'ledger_api.outbound_lots',
  'ledger_api.outbound_secrets',
  'ledger_api.reconciliation_checkpoint',
  'ledger_api.reconciliation_findings',
  'ledger_api.reconciliation_streams',
];
const ADDED_ROWS: Record<string, number> = { 'projections.checkpoints': 1 };

// What bdd52f2's migrate() had applied when it wrote the fixture (fixtures/make-bdd52f2-fixture.mjs).
const SETS: { set: MigrationSet; schema: string; appliedByOldCode: number }[] = [
  { set: eventStoreMigrations, schema: 'event_store', appliedByOldCode: 4 },
  { set: ledgerApiMigrations, schema: 'ledger_api', appliedByOldCode: 3 },
  { set: projectionMigrations, schema: 'projections', appliedByOldCode: 3 },
];

/**
 * A database as the code at bdd52f2 left it (versions recorded, no checksum
 * column) must migrate on with this code: the new migrations applied, the old
 * ones' checksums recorded, every row kept, and the streams appended to.
 */
describe('upgrading a database created by the code at bdd52f2', () => {
  let pool: pg.Pool;
  let url: string;
  beforeAll(async () => {
    url = await createTestDatabase('upgrade_bdd52f2');
    pool = new pg.Pool({ connectionString: url });
    await pool.query(await readFile(new URL('./fixtures/bdd52f2.sql', import.meta.url), 'utf8'));
  });
  afterAll(() => pool.end());

  it('applies what is new, records every checksum, keeps the data, and has the schema of a fresh database', async () => {
    const before = await contents(pool);
    expect(Number(before.get('event_store.events')!.count)).toBeGreaterThan(0);

    for (const { set, appliedByOldCode } of SETS) {
      const files = await readMigrations(set);
      expect(await migrate(pool, set)).toEqual(files.filter((m) => m.version > appliedByOldCode).map((m) => m.version));
      const { rows } = await pool.query<{ version: number; checksum: string }>(
        'SELECT version, checksum FROM public.ledger_migrations WHERE component = $1 ORDER BY version',
        [set.component],
      );
      expect(rows).toEqual(files.map((m) => ({ version: m.version, checksum: m.checksum })));
    }

    const after = await contents(pool);
    expect([...after.keys()]).toEqual([...before.keys(), ...NEW_TABLES].sort());
    for (const table of NEW_TABLES) expect({ table, count: after.get(table)!.count }).toEqual({ table, count: '0' });
    for (const [table, { count, digest }] of before) {
      const kept = String(Number(count) + (ADDED_ROWS[table] ?? 0));
      expect({ table, count: after.get(table)!.count }).toEqual({ table, count: kept });
      // The log is never rewritten by a migration: every event and stream row as it was.
      if (table.startsWith('event_store.'))
        expect({ table, digest: after.get(table)!.digest }).toEqual({ table, digest });
    }

    const fresh = new pg.Pool({ connectionString: await createTestDatabase('upgrade_fresh') });
    try {
      for (const { set } of SETS) await migrate(fresh, set);
      for (const { schema } of SETS) expect(await dumpSchema(pool, schema)).toBe(await dumpSchema(fresh, schema));
    } finally {
      await fresh.end();
    }
  });

  it('appends on to a stream the old code wrote, after its last position', async () => {
    const store = await PostgresEventStore.connect({ connectionString: url });
    try {
      const { rows } = await pool.query<{ stream_name: string; revision: string; head: string }>(
        `SELECT s.stream_name, s.revision, (SELECT max(position) FROM event_store.events) AS head
         FROM event_store.streams s ORDER BY s.revision DESC, s.stream_name LIMIT 1`,
      );
      const { stream_name: stream, revision, head } = rows[0]!;
      const appended = await store.append([
        { streamName: stream, expectedRevision: BigInt(revision), events: [event()] },
      ]);
      expect(appended.streams).toEqual([
        { streamName: stream, nextRevision: BigInt(revision) + 1n, lastPosition: BigInt(head) + 1n },
      ]);
      expect(appended.position).toBe(BigInt(head) + 1n);

      const stale = store.append([{ streamName: stream, expectedRevision: BigInt(revision), events: [event()] }]);
      await expect(stale).rejects.toThrow(VersionConflictError);
      const events = await store.readStream(stream);
      expect(events.map((e) => e.revision)).toEqual([...Array(Number(revision) + 2).keys()].map(BigInt));
    } finally {
      await store.close();
    }
  });
});

function event() {
  return { id: randomUUID(), type: 'CreditsGranted', data: { amount: 1, source: 'purchase' } };
}

/** Every table of the three schemas: its row count and a digest of its rows. */
async function contents(pool: pg.Pool): Promise<Map<string, { count: string; digest: string }>> {
  const { rows: tables } = await pool.query<{ t: string }>(
    `SELECT format('%I.%I', table_schema, table_name) AS t FROM information_schema.tables
     WHERE table_schema IN ('event_store', 'ledger_api', 'projections') AND table_type = 'BASE TABLE' ORDER BY 1`,
  );
  const result = new Map<string, { count: string; digest: string }>();
  for (const { t } of tables) {
    const { rows } = await pool.query<{ count: string; digest: string }>(
      `SELECT count(*) AS count, md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS digest FROM ${t} x`,
    );
    result.set(t, rows[0]!);
  }
  return result;
}
