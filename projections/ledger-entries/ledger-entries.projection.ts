import type { StoredEvent } from '@ledger/event-store';
import { accountIdOf, amountOf, optionalText, type Projection, type RowChange } from '../projection.js';

const SIGN: Record<string, 1 | -1> = { CreditsGranted: 1, Debited: -1, Refunded: 1 };

/**
 * One row per money movement, with the balance after it: why a balance is
 * what it is, for finance. Keeps its own running balance (the previous entry
 * of the account), so it depends on no other read model.
 */
export const ledgerEntriesProjection: Projection = {
  name: 'ledger_entries',
  tables: ['ledger_entries'],
  createTables: (schema) => `
CREATE TABLE ${schema}.ledger_entries (
  position bigint PRIMARY KEY,
  account_id text NOT NULL,
  type text NOT NULL,
  amount bigint NOT NULL CHECK (amount > 0),
  balance_after bigint NOT NULL CHECK (balance_after >= 0),
  project_id text,
  reason text,
  source text,
  reference text,
  event_id uuid NOT NULL,
  at timestamptz NOT NULL
);
CREATE INDEX ON ${schema}.ledger_entries (account_id, position DESC);
CREATE INDEX ON ${schema}.ledger_entries (project_id) WHERE project_id IS NOT NULL;`,
  map(event: StoredEvent, schema: string): RowChange[] {
    const accountId = accountIdOf(event.streamName);
    const sign = SIGN[event.type];
    if (!accountId || !sign) return [];
    const table = `${schema}.ledger_entries`;
    return [
      {
        text: `INSERT INTO ${table} (position, account_id, type, amount, balance_after, project_id, reason, source, reference, event_id, at)
               VALUES ($1, $2, $3, $4,
                 coalesce((SELECT balance_after FROM ${table} WHERE account_id = $2 ORDER BY position DESC LIMIT 1), 0) + $5,
                 $6, $7, $8, $9, $10, $11)`,
        values: [
          event.position.toString(),
          accountId,
          event.type,
          amountOf(event),
          String(sign * Number(amountOf(event))),
          optionalText(event.data.projectId),
          optionalText(event.data.reason),
          optionalText(event.data.source),
          optionalText(event.data.reference),
          event.id,
          event.createdAt,
        ],
        expectRows: 1,
      },
    ];
  },
};
