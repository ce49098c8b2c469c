import type pg from 'pg';
import { GroupRunner, type MemberResult } from '@ledger/platform';
import { keyReused, type Answer, type CommandContext } from './idempotency.js';

/** A refusal answered again, exactly as the first time (the filter sends it as it is). */
export class RecordedRefusal extends Error {
  override readonly name = 'RecordedRefusal';
  constructor(readonly answer: Answer) {
    super('recorded refusal');
  }
}

/**
 * Refused commands by caller and Idempotency-Key, in PostgreSQL (present with
 * either event store). A refusal appends no event, so it can't live in the
 * log; without this, a repeat of a refused debit could be accepted later and
 * charge under a key whose first answer was "no".
 */
export interface RefusalRow {
  request_hash: string;
  status: number;
  body: string;
}

export class RefusalRecords {
  // Concurrent commands look their keys up in one statement (the store's group commit does the same for appends).
  private readonly lookups = new GroupRunner<CommandContext, RefusalRow | undefined>(
    async (contexts) => {
      const { rows } = await this.pool.query<RefusalRow & { i: string }>({
        name: 'ledger_api.find_refusals',
        text: `SELECT k.i, r.request_hash, r.status, r.body
         FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(caller, idempotency_key, i)
         JOIN ledger_api.refusals r ON r.caller = k.caller AND r.idempotency_key = k.idempotency_key`,
        values: [contexts.map((c) => c.caller), contexts.map((c) => c.idempotencyKey)],
      });
      const found: MemberResult<RefusalRow | undefined>[] = contexts.map(() => ({ ok: true, value: undefined }));
      for (const row of rows) found[Number(row.i) - 1] = { ok: true, value: row };
      return found;
    },
    { maxInFlight: 2, maxGroup: 200 },
  );

  constructor(private readonly pool: pg.Pool) {}

  /** The row kept for this key, if any; `refusalOf` turns it into the refusal to throw. */
  find(context: CommandContext): Promise<RefusalRow | undefined> {
    return this.lookups.submit(context);
  }

  /** The refusal a kept row answers with, to be thrown (422 if the key came with another request). */
  static refusalOf(row: RefusalRow | undefined, context: CommandContext): RecordedRefusal | undefined {
    if (!row) return undefined;
    if (row.request_hash !== context.requestHash) throw keyReused();
    return new RecordedRefusal({ status: row.status, body: JSON.parse(row.body) as Answer['body'] });
  }

  /**
   * The statement that keeps refusals, each the first of its key (a concurrent second one
   * changes nothing). It runs on the key locks' session (`KeyLocks.keepRefusal`).
   */
  static keepStatement(kept: readonly { context: CommandContext; answer: Answer }[]): pg.QueryConfig {
    return {
      name: 'ledger_api.keep_refusals',
      text: `INSERT INTO ledger_api.refusals (caller, idempotency_key, request_hash, status, body)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::text[])
       ON CONFLICT (caller, idempotency_key) DO NOTHING`,
      values: [
        kept.map(({ context }) => context.caller),
        kept.map(({ context }) => context.idempotencyKey),
        kept.map(({ context }) => context.requestHash),
        kept.map(({ answer }) => answer.status),
        kept.map(({ answer }) => JSON.stringify(answer.body)),
      ],
    };
  }

  /** An acceptance of the same key won after all: its record answers from now on. */
  async forget(context: CommandContext): Promise<void> {
    await this.pool.query('DELETE FROM ledger_api.refusals WHERE caller = $1 AND idempotency_key = $2', [
      context.caller,
      context.idempotencyKey,
    ]);
  }
}
