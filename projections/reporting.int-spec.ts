import { readFile } from 'node:fs/promises';
import type pg from 'pg';
import type { PostgresEventStore } from '@ledger/event-store';
import { LedgerWorkload } from '@ledger/test-support';
import type { Projector } from './engine/projector.js';
import { rebuildProjection } from './engine/rebuild.js';
import { PROJECTIONS } from './schema.js';
import { startProjectedDatabase, type ProjectedDatabase } from './testing/projected-database.js';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const VIEWS = ['accounts', 'lots', 'ledger_entries', 'projects', 'daily_usage'];

/** The `reporting` views (migration 0005), read as a dashboard or psql would, before and after rebuild swaps. */
describe('reporting views', () => {
  let db: ProjectedDatabase;
  let store: PostgresEventStore;
  let pool: pg.Pool;
  let projector: Projector;

  beforeAll(async () => {
    db = await startProjectedDatabase('reporting', quiet);
    ({ store, pool, projector } = db);
    const workload = new LedgerWorkload(store);
    for (let i = 0; i < 300; i++) await workload.step();
    await projector.caughtUp(await store.headPosition());
  }, 60_000);
  afterAll(() => db.close());

  /** What a dashboard reads: every view's rows, and the daily totals against the ledger. */
  async function readings() {
    const count = async (view: string) =>
      Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM reporting.${view}`)).rows[0]!.n);
    const counts = Object.fromEntries(await Promise.all(VIEWS.map(async (v) => [v, await count(v)] as const)));
    const { rows: accounts } = await pool.query(
      'SELECT account_id, balance, paid, promotional, total_granted FROM reporting.accounts ORDER BY account_id',
    );
    const { rows: usage } = await pool.query<{ day: string; account_id: string; used: string }>(
      `SELECT day::text, account_id, sum(used)::text AS used FROM reporting.daily_usage GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    return { counts, accounts, usage };
  }

  it('answer what the projections hold: balances split into paid and promotional, usage by day', async () => {
    const before = await readings();
    for (const view of VIEWS) expect(before.counts[view]).toBeGreaterThan(0);
    for (const account of before.accounts) {
      expect(Number(account.paid) + Number(account.promotional)).toBe(Number(account.balance));
    }
    const { rows } = await pool.query<{ debited: string; refunded: string; used: string }>(
      `SELECT (SELECT coalesce(sum(amount), 0) FROM projections.ledger_entries WHERE type = 'Debited')::text AS debited,
              (SELECT coalesce(sum(amount), 0) FROM projections.ledger_entries WHERE type = 'Refunded')::text AS refunded,
              (SELECT sum(used) FROM reporting.daily_usage)::text AS used`,
    );
    expect(Number(rows[0]!.used)).toBe(Number(rows[0]!.debited) - Number(rows[0]!.refunded));
  });

  it('survive a rebuild swap of every projection, and follow the fresh tables', async () => {
    const before = await readings();
    for (const projection of PROJECTIONS) {
      await rebuildProjection({ pool, store, projection });
      // The view reads the swapped-in table (not one left behind with the retired schema).
      const { rows } = await pool.query<{ tables: string[] }>(
        `SELECT array_agg(DISTINCT d.refobjid::regclass::text ORDER BY d.refobjid::regclass::text) AS tables
           FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
          WHERE r.ev_class = 'reporting.accounts'::regclass AND d.refobjid <> 'reporting.accounts'::regclass`,
      );
      expect(rows[0]!.tables).toEqual(['projections.account_balances', 'projections.lots']);
    }
    expect(await readings()).toEqual(before);
    // And the log goes on: a new step shows in the views after the swap.
    const workload = new LedgerWorkload(store, 1);
    await workload.step();
    await projector.caughtUp(await store.headPosition());
    const after = await readings();
    expect(after.counts['ledger_entries']).toBeGreaterThan(before.counts['ledger_entries']!);
  }, 60_000);

  it('every column of every view is documented in the README', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Reporting views'));
    expect(section.length).toBeGreaterThan(0);
    const { rows } = await pool.query<{ view: string; column: string }>(
      `SELECT table_name AS view, column_name AS column FROM information_schema.columns
        WHERE table_schema = 'reporting' ORDER BY table_name, ordinal_position`,
    );
    expect(new Set(rows.map((r) => r.view))).toEqual(new Set(VIEWS));
    const undocumented = rows.filter(({ view, column }) => {
      const start = section.indexOf(`### \`reporting.${view}\``);
      const end = section.indexOf('###', start + 3);
      const documented = new RegExp(`^\\|\\s*\`${column}\`\\s*\\|`, 'm');
      return start < 0 || !documented.test(section.slice(start, end < 0 ? undefined : end));
    });
    expect(undocumented).toEqual([]);
  });
});
