import { Inject, Injectable } from '@nestjs/common';
import type pg from 'pg';
import { StoreUnavailableError } from '@ledger/event-store';
import { LIVE_SCHEMA } from '@ledger/projections';
import { ApiError } from '../errors/api-error.js';
import { PG_POOL } from '../infrastructure/tokens.js';
import { ProjectionProgress } from '../projections/projection-progress.js';
import type { Consistency } from './read-query.dto.js';

/** Qualified names of the read-model tables the queries read. */
export const READ_TABLES = {
  accountBalances: `${LIVE_SCHEMA}.account_balances`,
  ledgerEntries: `${LIVE_SCHEMA}.ledger_entries`,
  projects: `${LIVE_SCHEMA}.projects`,
} as const;

// SQLSTATE classes and socket errors that mean "the database can't serve us now":
// 08 connection exception, 53 insufficient resources, 57 operator intervention.
const UNAVAILABLE_CLASSES = new Set(['08', '53', '57']);
const UNAVAILABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);
// node-postgres names a dropped socket, a pool timeout or an ended pool only in the message.
const UNAVAILABLE_MESSAGE =
  /Connection terminated|connection timeout|Client has encountered a connection error|Cannot use a pool after calling end/i;

function isUnavailable(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (UNAVAILABLE_NODE_CODES.has(code) || UNAVAILABLE_CLASSES.has(code.slice(0, 2)))) {
    return true;
  }
  return typeof message === 'string' && UNAVAILABLE_MESSAGE.test(message);
}

/**
 * The read side of every query: wait until the projections reached the
 * caller's `minPosition` (503 `projection_behind` otherwise), then read the
 * read-model tables. A database that can't be reached is 503 `unavailable`,
 * as for commands.
 */
@Injectable()
export class ReadModel {
  constructor(
    @Inject(PG_POOL) private readonly pool: pg.Pool,
    private readonly progress: ProjectionProgress,
  ) {}

  async read<R extends pg.QueryResultRow>(
    consistency: Consistency,
    text: string,
    values: readonly unknown[],
  ): Promise<R[]> {
    try {
      await this.progress.waitFor(consistency.minPosition, consistency.waitMs);
      return (await this.pool.query<R>(text, [...values])).rows;
    } catch (error) {
      if (isUnavailable(error)) {
        throw new StoreUnavailableError('the read models are unavailable', { cause: error });
      }
      throw error;
    }
  }

  /**
   * 404 unless the account exists (has a balance row): its ledger and its
   * projects are sub-resources of it. Called after `read` has waited, so it
   * doesn't wait again.
   */
  async assertAccountExists(accountId: string): Promise<void> {
    const rows = await this.read(
      { minPosition: undefined, waitMs: 0 },
      `SELECT 1 FROM ${READ_TABLES.accountBalances} WHERE account_id = $1`,
      [accountId],
    );
    if (rows.length === 0) throw new ApiError(404, 'not_found', `account ${accountId} does not exist`, { accountId });
  }
}

/** Numbered placeholders for a statement built from optional filters. */
export class SqlParams {
  readonly values: unknown[] = [];

  /** Adds a value; returns its placeholder (`$n`). */
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}
