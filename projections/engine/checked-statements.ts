import pg from 'pg';
import { listenWhileCheckedOut } from '@ledger/platform';
import { LIVE_SCHEMA, type RowChange } from '../projection.js';
import { FencedOffError, ProjectionAssertionError } from './errors.js';
import { render } from './render.js';

/** A statement of a batch and the projection it belongs to (named in error messages). */
export interface OwnedChange {
  owner: string;
  change: RowChange;
}

// SQLSTATEs the row-count check raises (class LD is not used by PostgreSQL).
const ASSERTION_SQLSTATE = 'LD001';
const FENCE_SQLSTATE = 'LD002';
/**
 * Checks a statement's row count inside the transaction: raises (and so aborts the
 * transaction) when a statement changed another number of rows than it promised. With
 * the check in the database, a batch and its COMMIT go in one round trip, and a mismatch
 * can never be committed. Migration 0003_expect_rows defines it, raising the SQLSTATEs above.
 */
const EXPECT_ROWS = `${LIVE_SCHEMA}.expect_rows`;

/**
 * The statement as SQL; one that promised a row count becomes a
 * data-modifying CTE whose rows are counted and checked by `expect_rows`.
 * `index` comes back in the error, to name the statement that failed.
 */
export function renderChecked({ owner, change }: OwnedChange, index: number): string {
  const sql = render(change);
  if (change.expectRows === undefined) return sql;
  if (!/^\s*(INSERT|UPDATE|DELETE)\s/i.test(change.text) || /\bRETURNING\b/i.test(change.text)) {
    throw new Error(
      `a statement with a row count must be an INSERT, UPDATE or DELETE without RETURNING: ${change.text}`,
    );
  }
  return (
    `WITH changed AS (${sql} RETURNING 1) SELECT ${EXPECT_ROWS}((SELECT count(*) FROM changed), ` +
    `${change.expectRows}, ${pg.escapeLiteral(owner)}, ${index}, ${change.fence ? 'true' : 'false'})`
  );
}

/** Statements rendered as one query text, ready to send (statement `i` is `statements[i]`). */
export interface CheckedSql {
  statements: readonly OwnedChange[];
  text: string;
}

export function checkedSql(statements: readonly OwnedChange[]): CheckedSql {
  return { statements, text: statements.map(renderChecked).join(';\n') };
}

/** A failed row-count check as our own error (other errors as they are). */
export function translateCheckError(error: unknown, statements: readonly OwnedChange[]): unknown {
  const { code, message, detail } = error as { code?: string; message?: string; detail?: string };
  if (code === FENCE_SQLSTATE) return new FencedOffError(message);
  if (code !== ASSERTION_SQLSTATE) return error;
  const statement = statements[Number(detail)];
  if (!statement) return new ProjectionAssertionError('unknown', `${message} (statement ${detail})`);
  const { change } = statement;
  return new ProjectionAssertionError(
    statement.owner,
    `${message}: ${change.text.slice(0, 120)} [${change.values.slice(0, 2).join(', ')}]`,
  );
}

/**
 * Runs the statements as one transaction in one round trip: `BEGIN; ...;
 * COMMIT` in a single query. An error abandons the rest of the text (the
 * COMMIT too), and the transaction is rolled back.
 */
export async function commitChecked(pool: pg.Pool, sql: CheckedSql): Promise<void> {
  if (sql.statements.length === 0) return;
  const client = await pool.connect();
  const release = listenWhileCheckedOut(client);
  let broken: Error | undefined;
  try {
    await client.query(`BEGIN;\n${sql.text};\nCOMMIT`);
  } catch (error) {
    await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
    throw translateCheckError(error, sql.statements);
  } finally {
    // A connection that can't even roll back is not handed out again.
    release(broken);
  }
}

/** Runs the statements inside the caller's open transaction, in one round trip. */
export async function runChecked(client: pg.PoolClient, sql: CheckedSql): Promise<void> {
  if (sql.statements.length === 0) return;
  try {
    await client.query(sql.text);
  } catch (error) {
    throw translateCheckError(error, sql.statements);
  }
}
