import { Inject, Injectable } from '@nestjs/common';
import type pg from 'pg';
import { isPostgresUnavailable, StoreUnavailableError } from '@ledger/event-store';
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
      if (isPostgresUnavailable(error)) {
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
