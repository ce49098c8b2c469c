import type { StoredEvent } from '@ledger/event-store';
import { accountIdOf, amountOf, type Projection, type RowChange } from '../projection.js';

/** Each account's balance and running totals, for dashboards and `GET /v1/accounts/{id}`. */
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
  map(event: StoredEvent, schema: string): RowChange[] {
    const accountId = accountIdOf(event.streamName);
    if (!accountId) return [];
    const table = `${schema}.account_balances`;
    const common = [accountId, amountOf(event), event.createdAt, event.position.toString()];
    switch (event.type) {
      case 'CreditsGranted':
        return [
          {
            text: `INSERT INTO ${table} AS t (account_id, balance, total_granted, total_debited, total_refunded, created_at, updated_at, position)
                   VALUES ($1, $2, $2, 0, 0, $3, $3, $4)
                   ON CONFLICT (account_id) DO UPDATE SET balance = t.balance + $2, total_granted = t.total_granted + $2,
                     updated_at = $3, position = $4`,
            values: common,
            expectRows: 1,
          },
        ];
      case 'Debited':
        return [
          {
            text: `UPDATE ${table} SET balance = balance - $2, total_debited = total_debited + $2, updated_at = $3, position = $4
                   WHERE account_id = $1`,
            values: common,
            expectRows: 1,
          },
        ];
      case 'Refunded':
        return [
          {
            text: `UPDATE ${table} SET balance = balance + $2, total_refunded = total_refunded + $2, updated_at = $3, position = $4
                   WHERE account_id = $1`,
            values: common,
            expectRows: 1,
          },
        ];
      default:
        return [];
    }
  },
};
