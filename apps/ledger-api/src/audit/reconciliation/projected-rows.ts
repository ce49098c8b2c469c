import type pg from 'pg';
import { CHECKPOINTS_TABLE, LIVE_SCHEMA, accountBalancesProjection, projectsProjection } from '@ledger/projections';
import { isPostgresUnavailable, StoreUnavailableError } from '@ledger/event-store';
import type { AccountRow, ProjectRow } from './read-model-fold.js';

/** The read models' rows and the checkpoint each one is exactly the fold of. */
export interface ProjectedRows {
  accountsCheckpoint: bigint;
  projectsCheckpoint: bigint;
  accounts: Map<string, AccountRow>;
  projects: Map<string, ProjectRow>;
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
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const { rows: checkpoints } = await client.query<{ projection: string; position: string }>(
      `SELECT projection, position FROM ${CHECKPOINTS_TABLE} WHERE projection = ANY($1)`,
      [[accountBalancesProjection.name, projectsProjection.name]],
    );
    const checkpointOf = (name: string) => BigInt(checkpoints.find((c) => c.projection === name)?.position ?? 0);
    const accounts = new Map<string, AccountRow>();
    await readPages(client, ACCOUNTS_SQL, (row: AccountRecord) => {
      accounts.set(row.id, {
        balance: Number(row.balance),
        totalGranted: Number(row.total_granted),
        totalDebited: Number(row.total_debited),
        totalRefunded: Number(row.total_refunded),
      });
    });
    const projects = new Map<string, ProjectRow>();
    await readPages(client, PROJECTS_SQL, (row: ProjectRecord) => {
      projects.set(row.id, {
        accountId: row.account_id,
        status: row.status,
        cost: Number(row.cost),
        creditsUsed: row.credits_used === null ? null : Number(row.credits_used),
        refunded: Number(row.refunded),
        attempt: row.attempt,
      });
    });
    await client.query('COMMIT');
    return {
      accountsCheckpoint: checkpointOf(accountBalancesProjection.name),
      projectsCheckpoint: checkpointOf(projectsProjection.name),
      accounts,
      projects,
    };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw translate(error);
  } finally {
    client.release();
  }
}

interface AccountRecord {
  id: string;
  balance: string;
  total_granted: string;
  total_debited: string;
  total_refunded: string;
}

interface ProjectRecord {
  id: string;
  account_id: string;
  status: string;
  cost: string;
  credits_used: string | null;
  refunded: string;
  attempt: number;
}

const ACCOUNTS_SQL = `SELECT account_id AS id, balance, total_granted, total_debited, total_refunded
  FROM ${LIVE_SCHEMA}.account_balances WHERE account_id > $1 ORDER BY account_id LIMIT $2`;
const PROJECTS_SQL = `SELECT project_id AS id, account_id, status, cost, credits_used, refunded, attempt
  FROM ${LIVE_SCHEMA}.projects WHERE project_id > $1 ORDER BY project_id LIMIT $2`;

async function readPages<Row extends { id: string }>(
  client: pg.PoolClient,
  sql: string,
  onRow: (row: Row) => void,
): Promise<void> {
  // '' sorts before every id (ids are 1 to 128 characters).
  for (let after = ''; ;) {
    const { rows } = await client.query<Row>(sql, [after, PAGE_ROWS]);
    rows.forEach(onRow);
    if (rows.length < PAGE_ROWS) return;
    after = rows.at(-1)!.id;
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
