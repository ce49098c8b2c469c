import type { StoredEvent } from '@ledger/event-store';
import { accountIdOf, amountOf, valuesList, type Projection, type RowChange } from '../projection.js';

interface Delta {
  /** Only an account whose first money event is a grant may be created (as in the domain). */
  opensWithGrant: boolean;
  balance: number;
  granted: number;
  debited: number;
  refunded: number;
  firstAt: Date;
  lastAt: Date;
  position: bigint;
}

/**
 * Each account's balance and running totals, for dashboards and
 * `GET /v1/accounts/{id}`. A batch becomes two statements: new accounts'
 * rows, then the per-account sums of its money events added to every row.
 */
export const accountBalancesProjection: Projection = {
  name: 'account_balances',
  tables: ['account_balances'],
  createTables: (schema) => `
CREATE TABLE ${schema}.account_balances (
  account_id text PRIMARY KEY,
  balance bigint NOT NULL CHECK (balance >= 0),
  total_granted bigint NOT NULL,
  total_debited bigint NOT NULL,
  total_refunded bigint NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  position bigint NOT NULL
);`,
  map(events: readonly StoredEvent[], schema: string): RowChange[] {
    const deltas = new Map<string, Delta>();
    for (const event of events) {
      const accountId = accountIdOf(event.streamName);
      if (!accountId || !['CreditsGranted', 'Debited', 'Refunded'].includes(event.type)) continue;
      const amount = Number(amountOf(event));
      const delta = deltas.get(accountId) ?? {
        opensWithGrant: event.type === 'CreditsGranted',
        balance: 0,
        granted: 0,
        debited: 0,
        refunded: 0,
        firstAt: event.createdAt,
        lastAt: event.createdAt,
        position: event.position,
      };
      if (event.type === 'CreditsGranted')
        Object.assign(delta, { balance: delta.balance + amount, granted: delta.granted + amount });
      if (event.type === 'Debited')
        Object.assign(delta, { balance: delta.balance - amount, debited: delta.debited + amount });
      if (event.type === 'Refunded')
        Object.assign(delta, { balance: delta.balance + amount, refunded: delta.refunded + amount });
      Object.assign(delta, { lastAt: event.createdAt, position: event.position });
      deltas.set(accountId, delta);
    }
    if (deltas.size === 0) return [];
    const table = `${schema}.account_balances`;
    const rows = [...deltas];
    // A debit or refund of an account with no row makes the update below miss it: a
    // failed row count, which stops the projection (a corrupt or foreign log).
    const opening = rows.filter(([, d]) => d.opensWithGrant);
    return [
      ...(opening.length === 0
        ? []
        : [
            {
              // New accounts start at zero (a CHECK is tested on a proposed row even when it
              // conflicts, so the sums can't ride on the insert).
              text: `INSERT INTO ${table} (account_id, balance, total_granted, total_debited, total_refunded, created_at, updated_at, position)
               SELECT v.account_id, 0, 0, 0, 0, v.first_at::timestamptz, v.first_at::timestamptz, v.position::bigint
               FROM (VALUES ${valuesList(opening.length, 3)}) AS v(account_id, first_at, position)
               ON CONFLICT (account_id) DO NOTHING`,
              values: opening.flatMap(([accountId, d]) => [accountId, d.firstAt, d.position.toString()]),
            },
          ]),
      {
        text: `UPDATE ${table} AS t SET balance = t.balance + v.balance::bigint, total_granted = t.total_granted + v.granted::bigint,
                 total_debited = t.total_debited + v.debited::bigint, total_refunded = t.total_refunded + v.refunded::bigint,
                 updated_at = v.last_at::timestamptz, position = v.position::bigint
               FROM (VALUES ${valuesList(rows.length, 7)}) AS v(account_id, balance, granted, debited, refunded, last_at, position)
               WHERE t.account_id = v.account_id`,
        values: rows.flatMap(([accountId, d]) => [
          accountId,
          String(d.balance),
          String(d.granted),
          String(d.debited),
          String(d.refunded),
          d.lastAt,
          d.position.toString(),
        ]),
        expectRows: rows.length,
      },
    ];
  },
};
