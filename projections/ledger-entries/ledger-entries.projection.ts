import { accountIdOf, applyMoney, NO_MONEY } from '@ledger/domain';
import type { StoredEvent } from '@ledger/event-store';
import { asLedgerEvent, isAccountEvent } from '../ledger-event.js';
import { amountOf, valuesList, type Projection, type RowChange, type SqlValue } from '../projection.js';
import { LEDGER_ENTRIES_TABLE, LEDGER_ENTRY_COLUMNS } from './ledger-entries.table.js';

/** What an entry tells of its movement besides the amount; each kind of movement has some of them. */
type EntryFields = Readonly<{ projectId?: string; reason?: string; source?: string; reference?: string }>;

const COLUMNS = LEDGER_ENTRY_COLUMNS.length;

/**
 * One row per money movement, with the balance after it: why a balance is
 * what it is, for finance. Keeps its own running balance (the account's
 * latest entry before the batch plus a running sum within it), so it depends
 * on no other read model. A batch is one multi-row INSERT.
 */
export const ledgerEntriesProjection: Projection = {
  name: 'ledger_entries',
  tables: [LEDGER_ENTRIES_TABLE],
  map(events: readonly StoredEvent[], schema: string): RowChange[] {
    const entries: SqlValue[][] = [];
    for (const stored of events) {
      const event = asLedgerEvent(stored);
      const accountId = accountIdOf(stored.streamName);
      if (!accountId || !event || !isAccountEvent(event)) continue;
      const amount = amountOf(event);
      const { projectId, reason, source, reference }: EntryFields = event.data;
      entries.push([
        event.position.toString(),
        accountId,
        event.type,
        amount,
        // The movement's signed amount, as the account's money sees it.
        String(applyMoney(NO_MONEY, event).balance),
        projectId ?? null,
        reason ?? null,
        source ?? null,
        reference ?? null,
        event.id,
        event.createdAt,
      ]);
    }
    if (entries.length === 0) return [];
    const table = `${schema}.${LEDGER_ENTRIES_TABLE}`;
    return [
      {
        // The subquery reads the table as it was before this statement: the account's last
        // balance before the batch, to which the window adds the batch's movements in order.
        text: `INSERT INTO ${table} (${LEDGER_ENTRY_COLUMNS.join(', ')})
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
