import { Inject, Injectable } from '@nestjs/common';
import type pg from 'pg';
import { isPostgresUnavailable, StoreUnavailableError } from '@ledger/event-store';
import { listenWhileCheckedOut } from '@ledger/platform';
import { accountBalancesTable, type Queryable } from '@ledger/projections';
import { ApiError } from '../errors/api-error.js';
import { PG_POOL } from '../infrastructure/tokens.js';
import { ProjectionProgress } from '../projections/projection-progress.js';
import type { Consistency } from './read-query.dto.js';

/**
 * The read side of every query: wait until the projections reached the
 * caller's `minPosition` (503 `projection_behind` otherwise), then read the
 * read-model tables through their modules' named reads. A database that can't
 * be reached is 503 `unavailable`, as for commands.
 */
@Injectable()
export class ReadModel {
  constructor(
    @Inject(PG_POOL) private readonly pool: pg.Pool,
    private readonly progress: ProjectionProgress,
  ) {}

  async read<T>(consistency: Consistency, read: (db: Queryable) => Promise<T>): Promise<T> {
    try {
      await this.progress.waitFor(consistency.minPosition, consistency.waitMs);
      return await read(this.pool);
    } catch (error) {
      if (isPostgresUnavailable(error)) {
        throw new StoreUnavailableError('the read models are unavailable', { cause: error });
      }
      throw error;
    }
  }

  /**
   * Like `read`, with every statement of `read` on one snapshot of the read models
   * (a repeatable-read transaction): an answer made of several reads (an account and
   * its lots, a statement's balances and lines) never mixes two batches.
   */
  async snapshot<T>(consistency: Consistency, read: (db: Queryable) => Promise<T>): Promise<T> {
    return this.read(consistency, async () => {
      const client = await this.pool.connect();
      const release = listenWhileCheckedOut(client);
      let failure: Error | undefined;
      try {
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const result = await read(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        // A connection that failed is dropped, not handed back to the pool.
        failure = error instanceof Error ? error : new Error(String(error));
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        release(failure);
      }
    });
  }

  /** The one row `read` finds; 404 `not_found`, naming the resource, when there is none. */
  async found<T>(
    consistency: Consistency,
    resource: Resource,
    id: string,
    read: (db: Queryable) => Promise<T | undefined>,
  ): Promise<T> {
    const row = await this.read(consistency, read);
    if (row === undefined) throw notFound(resource, id);
    return row;
  }

  /**
   * 404 unless the account exists (has a balance row): its ledger and its
   * projects are sub-resources of it. Called after `read` has waited, so it
   * doesn't wait again.
   */
  async assertAccountExists(accountId: string): Promise<void> {
    const exists = await this.read({ minPosition: undefined, waitMs: 0 }, (db) =>
      accountBalancesTable.exists(db, accountId),
    );
    if (!exists) throw notFound('account', accountId);
  }
}

type Resource = 'account' | 'project';

export function notFound(resource: Resource, id: string): ApiError {
  return new ApiError(404, 'not_found', `${resource} ${id} does not exist`, { [`${resource}Id`]: id });
}
