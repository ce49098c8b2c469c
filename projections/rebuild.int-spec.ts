import type pg from 'pg';
import type { PostgresEventStore } from '@ledger/event-store';
import { LedgerWorkload } from '@ledger/test-support';
import type { Projector } from './engine/projector.js';
import { startProjectedDatabase, type ProjectedDatabase } from './testing/projected-database.js';
import { compareTables, rebuildProjection } from './engine/rebuild.js';
import { PROJECTIONS } from './schema.js';
import { LIVE_SCHEMA } from './projection.js';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

describe('rebuild from position zero', () => {
  let db: ProjectedDatabase;
  let store: PostgresEventStore;
  let pool: pg.Pool;
  let projector: Projector;
  let workload: LedgerWorkload;

  beforeAll(async () => {
    db = await startProjectedDatabase('rebuild', quiet);
    ({ store, pool, projector } = db);
    workload = new LedgerWorkload(store);
    for (let i = 0; i < 400; i++) await workload.step();
    await projector.caughtUp(await store.headPosition());
  }, 60_000);
  afterAll(() => db.close());

  /** The live tables' columns, constraints and indexes, by name. */
  async function liveDefinitions(): Promise<string[]> {
    const { rows } = await pool.query<{ definition: string }>(
      `SELECT format('column %s.%s %s %s %s', table_name, column_name, data_type, is_nullable, column_default) AS definition
         FROM information_schema.columns WHERE table_schema = $1
       UNION ALL
       SELECT format('constraint %s %s', conname, pg_get_constraintdef(oid)) FROM pg_constraint
        WHERE connamespace = $1::regnamespace
       UNION ALL
       SELECT format('index %s', indexdef) FROM pg_indexes WHERE schemaname = $1
       ORDER BY 1`,
      [LIVE_SCHEMA],
    );
    return rows.map((row) => row.definition);
  }

  it.each(PROJECTIONS.map((p) => [p.name, p] as const))(
    '%s: fresh tables built from zero equal the live ones, in both directions',
    async (_, projection) => {
      const result = await rebuildProjection({ pool, store, projection, swap: false });
      expect(result.events).toBeGreaterThan(400);
      for (const table of projection.tables) {
        expect(await compareTables(pool, table, LIVE_SCHEMA, result.schema)).toEqual({ onlyLeft: 0, onlyRight: 0 });
      }
      await pool.query(`DROP SCHEMA ${result.schema} CASCADE`);
    },
    30_000,
  );

  // The live tables were built in whatever batches the runner's timing made; these pin the extremes.
  it.each(PROJECTIONS.map((p) => [p.name, p] as const))(
    '%s: the same rows from batches of one event as from batches of thousands',
    async (_, projection) => {
      const oneByOne = await rebuildProjection({ pool, store, projection, swap: false, batchSizeMax: 1 });
      const kept = `${oneByOne.schema}_one_by_one`;
      await pool.query(`DROP SCHEMA IF EXISTS ${kept} CASCADE; ALTER SCHEMA ${oneByOne.schema} RENAME TO ${kept}`);
      const whole = await rebuildProjection({ pool, store, projection, swap: false, batchSizeMax: 10_000 });
      expect([oneByOne.events, oneByOne.position]).toEqual([whole.events, whole.position]);
      for (const table of projection.tables) {
        expect(await compareTables(pool, table, kept, whole.schema)).toEqual({ onlyLeft: 0, onlyRight: 0 });
      }
      await pool.query(`DROP SCHEMA ${kept} CASCADE; DROP SCHEMA ${whole.schema} CASCADE`);
    },
    60_000,
  );

  it('notices a tampered live row (the comparison can fail)', async () => {
    const projection = PROJECTIONS.find((p) => p.name === 'account_balances')!;
    const result = await rebuildProjection({ pool, store, projection, swap: false });
    await pool.query(`UPDATE ${LIVE_SCHEMA}.account_balances SET balance = balance + 1 WHERE account_id = 'acc-0'`);
    expect(await compareTables(pool, 'account_balances', LIVE_SCHEMA, result.schema)).toEqual({
      onlyLeft: 1,
      onlyRight: 1,
    });
    await pool.query(`UPDATE ${LIVE_SCHEMA}.account_balances SET balance = balance - 1 WHERE account_id = 'acc-0'`);
    await pool.query(`DROP SCHEMA ${result.schema} CASCADE`);
  });

  it('swaps the rebuilt tables in while commands keep flowing, and they stay equal to a fresh build', async () => {
    const definitions = await liveDefinitions();
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing && i < 5_000; i++) await workload.step();
    })();
    const progress: bigint[] = [];
    try {
      for (const projection of PROJECTIONS) {
        const result = await rebuildProjection({
          pool,
          store,
          projection,
          onProgress: (p) => progress.push(p.position),
        });
        expect(result.swapped).toBe(true);
      }
    } finally {
      writing = false;
      await writer;
    }
    expect(progress.length).toBeGreaterThan(0);
    // Copied from the live tables, the swapped-in ones are what the migrations made, index names too.
    expect(await liveDefinitions()).toEqual(definitions);
    await projector.caughtUp(await store.headPosition());
    expect(projector.status().every((s) => s.active && !s.failed)).toBe(true);
    for (const projection of PROJECTIONS) {
      const fresh = await rebuildProjection({ pool, store, projection, swap: false });
      for (const table of projection.tables) {
        expect(await compareTables(pool, table, LIVE_SCHEMA, fresh.schema)).toEqual({ onlyLeft: 0, onlyRight: 0 });
      }
      await pool.query(`DROP SCHEMA ${fresh.schema} CASCADE`);
    }
  }, 120_000);
});
