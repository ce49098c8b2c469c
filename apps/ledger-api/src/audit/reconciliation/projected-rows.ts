import type pg from 'pg';
import type { AccountMoney } from '@ledger/domain';
import { listenWhileCheckedOut } from '@ledger/platform';
import {
  accountBalancesProjection,
  accountBalancesTable,
  checkpointsTable,
  lotsProjection,
  lotsTable,
  projectsProjection,
  projectsTable,
  type ProjectFigures,
} from '@ledger/projections';
import { isPostgresUnavailable, StoreUnavailableError } from '@ledger/event-store';
import type { LotFigures } from './lot-audit.js';

/** The read models' rows and the checkpoint each one is exactly the fold of. */
export interface ProjectedRows {
  accountsCheckpoint: bigint;
  projectsCheckpoint: bigint;
  lotsCheckpoint: bigint;
  accounts: Map<string, AccountMoney>;
  projects: Map<string, ProjectFigures>;
  /** By account, by grant id. */
  lots: Map<string, Map<string, LotFigures>>;
}

// Keyset pages: no single result holds the whole table.
const PAGE_ROWS = 5_000;

/**
 * Reads both read models and their checkpoints in one REPEATABLE READ snapshot. The
 * projector writes a batch's rows and its checkpoint in one transaction, so in one
 * snapshot each table is exactly the fold of the events up to its own checkpoint,
 * however far the projector moves on meanwhile.
 */
export async function readProjectedRows(pool: pg.Pool): Promise<ProjectedRows> {
  const client = await connect(pool);
  const release = listenWhileCheckedOut(client);
  let failure: unknown;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const checkpoints = await checkpointsTable.positions(client, [
      accountBalancesProjection.name,
      projectsProjection.name,
      lotsProjection.name,
    ]);
    const checkpointOf = (name: string) => checkpoints.get(name) ?? 0n;
    const accounts = await readAll((after) => accountBalancesTable.moneyAfter(client, after, PAGE_ROWS));
    const projects = await readAll((after) => projectsTable.figuresAfter(client, after, PAGE_ROWS));
    const lots = await readLots(client);
    await client.query('COMMIT');
    return {
      accountsCheckpoint: checkpointOf(accountBalancesProjection.name),
      projectsCheckpoint: checkpointOf(projectsProjection.name),
      lotsCheckpoint: checkpointOf(lotsProjection.name),
      accounts,
      projects,
      lots,
    };
  } catch (error) {
    failure = error;
    await client.query('ROLLBACK').catch(() => undefined);
    throw translate(error);
  } finally {
    // A connection that failed is dropped, not handed back to the pool.
    release(failure === undefined ? undefined : true);
  }
}

/** Every row of a table, a keyset page of `PAGE_ROWS` at a time. */
async function readAll<Row>(page: (afterId: string) => Promise<[string, Row][]>): Promise<Map<string, Row>> {
  const rows = new Map<string, Row>();
  // '' sorts before every id (ids are 1 to 128 characters).
  for (let after = ''; ;) {
    const entries = await page(after);
    for (const [id, row] of entries) rows.set(id, row);
    if (entries.length < PAGE_ROWS) return rows;
    after = entries.at(-1)![0];
  }
}

/** Every lot row, by account and grant, a keyset page of `PAGE_ROWS` at a time. */
async function readLots(client: pg.PoolClient): Promise<Map<string, Map<string, LotFigures>>> {
  const lots = new Map<string, Map<string, LotFigures>>();
  for (let after = 0n; ;) {
    const page = await lotsTable.figuresAfter(client, after, PAGE_ROWS);
    for (const { row } of page) {
      const ofAccount = lots.get(row.accountId) ?? new Map<string, LotFigures>();
      const { category, granted, remaining, status } = row;
      ofAccount.set(row.grantId, { category, granted, remaining, status });
      lots.set(row.accountId, ofAccount);
    }
    if (page.length < PAGE_ROWS) return lots;
    after = page.at(-1)!.key;
  }
}

async function connect(pool: pg.Pool): Promise<pg.PoolClient> {
  try {
    return await pool.connect();
  } catch (error) {
    throw translate(error);
  }
}

// A database that can't be reached is a 503, as for the event store.
function translate(error: unknown): unknown {
  return isPostgresUnavailable(error)
    ? new StoreUnavailableError('the read models database is unavailable', { cause: error })
    : error;
}
