import type { StoredEvent } from '@ledger/event-store';
import { accountIdOf, amountOf, optionalText, valuesList, type Projection, type RowChange } from '../projection.js';

const SIGN: Record<string, 1 | -1> = { CreditsGranted: 1, Debited: -1, Refunded: 1 };
const COLUMNS = 11;

/**
 * One row per money movement, with the balance after it: why a balance is
 * what it is, for finance. Keeps its own running balance (the account's
 * latest entry before the batch plus a running sum within it), so it depends
 * on no other read model. A batch is one multi-row INSERT.
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
  map(events: readonly StoredEvent[], schema: string): RowChange[] {
    const entries = events.flatMap((event) => {
      const accountId = accountIdOf(event.streamName);
      const sign = SIGN[event.type];
      if (!accountId || !sign) return [];
      const amount = amountOf(event);
      return [
        [
          event.position.toString(),
          accountId,
          event.type,
          amount,
          String(sign * Number(amount)),
          optionalText(event.data.projectId),
          optionalText(event.data.reason),
          optionalText(event.data.source),
          optionalText(event.data.reference),
          event.id,
          event.createdAt,
        ],
      ];
    });
    if (entries.length === 0) return [];
    const table = `${schema}.ledger_entries`;
    return [
      {
        // The subquery reads the table as it was before this statement: the account's last
        // balance before the batch, to which the window adds the batch's movements in order.
        text: `INSERT INTO ${table} (position, account_id, type, amount, balance_after, project_id, reason, source, reference, event_id, at)
               SELECT v.position::bigint, v.account_id, v.type, v.amount::bigint,
                 coalesce((SELECT p.balance_after FROM ${table} p WHERE p.account_id = v.account_id ORDER BY p.position DESC LIMIT 1), 0)
                   + sum(v.delta::bigint) OVER (PARTITION BY v.account_id ORDER BY v.position::bigint),
                 v.project_id, v.reason, v.source, v.reference, v.event_id::uuid, v.at::timestamptz
               FROM (VALUES ${valuesList(entries.length, COLUMNS)})
                 AS v(position, account_id, type, amount, delta, project_id, reason, source, reference, event_id, at)`,
        values: entries.flat(),
        expectRows: entries.length,
      },
    ];
  },
};
