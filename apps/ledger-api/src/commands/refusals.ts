import type pg from 'pg';
import { ApiError } from '../errors/api-error.js';
import type { CommandContext, CommandOutcome } from './idempotency.js';

/** A refusal answered again, exactly as the first time (the filter sends it as it is). */
export class RecordedRefusal extends Error {
  override readonly name = 'RecordedRefusal';
  constructor(readonly outcome: CommandOutcome) {
    super('recorded refusal');
  }
}

/**
 * Refused commands by caller and Idempotency-Key, in PostgreSQL (present with
 * either event store). A refusal appends no event, so it can't live in the
 * log; without this, a repeat of a refused debit could be accepted later and
 * charge under a key whose first answer was "no".
 */
export class RefusalRecords {
  constructor(private readonly pool: pg.Pool) {}

  /** Throws the recorded refusal for this key (or 422 if the key came with another request). */
  async replay(context: CommandContext): Promise<void> {
    const { rows } = await this.pool.query<{ request_hash: string; status: number; body: string }>(
      'SELECT request_hash, status, body FROM ledger_api.refusals WHERE caller = $1 AND idempotency_key = $2',
      [context.caller, context.idempotencyKey],
    );
    const row = rows[0];
    if (!row) return;
    if (row.request_hash !== context.requestHash) {
      throw new ApiError(
        422,
        'idempotency_key_reused',
        'this Idempotency-Key was already used with a different request',
      );
    }
    throw new RecordedRefusal({ status: row.status, body: JSON.parse(row.body) as Record<string, unknown> });
  }

  /** Keeps the first refusal of a key; a concurrent second one changes nothing. */
  async record(context: CommandContext, outcome: CommandOutcome): Promise<void> {
    await this.pool.query(
      `INSERT INTO ledger_api.refusals (caller, idempotency_key, request_hash, status, body)
       VALUES ($1, $2, $3, $4, $5) ON CONFLICT (caller, idempotency_key) DO NOTHING`,
      [context.caller, context.idempotencyKey, context.requestHash, outcome.status, JSON.stringify(outcome.body)],
    );
  }

  /** An acceptance of the same key won after all: its record answers from now on. */
  async forget(context: CommandContext): Promise<void> {
    await this.pool.query('DELETE FROM ledger_api.refusals WHERE caller = $1 AND idempotency_key = $2', [
      context.caller,
      context.idempotencyKey,
    ]);
  }
}
