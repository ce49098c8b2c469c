import { LIVE_SCHEMA } from '../projection.js';
import { integerOf, isoOf, SqlParams, type Keyed, type PageRequest, type Queryable } from '../rows.js';

/**
 * `projections.ledger_entries`, one row per money movement with the balance after it:
 * its columns, its row as the API answers it, and its reads. The ledger entries
 * projection writes it; migrations/ define it.
 */
export const LEDGER_ENTRIES_TABLE = 'ledger_entries';
const TABLE = `${LIVE_SCHEMA}.${LEDGER_ENTRIES_TABLE}`;

/** The columns in the table's order: the projection inserts them. */
export const LEDGER_ENTRY_COLUMNS: readonly (keyof LedgerEntryRecord)[] = [
  'position',
  'account_id',
  'type',
  'amount',
  'balance_after',
  'project_id',
  'reason',
  'source',
  'reference',
  'event_id',
  'at',
];

/** A row as pg returns it: bigint as text, timestamptz as Date. */
export interface LedgerEntryRecord {
  position: string;
  account_id: string;
  type: string;
  amount: string;
  balance_after: string;
  project_id: string | null;
  reason: string | null;
  source: string | null;
  reference: string | null;
  event_id: string;
  at: Date;
}

type ListedRecord = Omit<LedgerEntryRecord, 'account_id' | 'event_id'>;

/** One money movement of an account and the balance right after it. Optional fields are left out when unset. */
function ledgerEntryOf(record: ListedRecord) {
  return {
    position: integerOf(record.position),
    type: record.type,
    amount: integerOf(record.amount),
    balanceAfter: integerOf(record.balance_after),
    ...(record.project_id === null ? {} : { projectId: record.project_id }),
    ...(record.reason === null ? {} : { reason: record.reason }),
    ...(record.source === null ? {} : { source: record.source }),
    ...(record.reference === null ? {} : { reference: record.reference }),
    at: isoOf(record.at),
  };
}

export type LedgerEntryRow = ReturnType<typeof ledgerEntryOf>;

export type LedgerOrder = 'asc' | 'desc';

export const ledgerEntriesTable = {
  name: LEDGER_ENTRIES_TABLE,

  /**
   * An account's entries, newest (`desc`) or oldest (`asc`) first, keyed on `position`
   * and served by the `(account_id, position)` index in either direction. Reads
   * `limit + 1` (see `Keyed`).
   */
  async pageByAccount(
    db: Queryable,
    accountId: string,
    order: LedgerOrder,
    page: PageRequest,
  ): Promise<Keyed<LedgerEntryRow>[]> {
    const params = new SqlParams();
    const where = [`account_id = ${params.add(accountId)}`];
    if (page.after !== undefined) {
      where.push(`position ${order === 'desc' ? '<' : '>'} ${params.add(page.after.toString())}`);
    }
    const { rows } = await db.query<ListedRecord>(
      `SELECT position, type, amount, balance_after, project_id, reason, source, reference, at
       FROM ${TABLE} WHERE ${where.join(' AND ')}
       ORDER BY position ${order === 'desc' ? 'DESC' : 'ASC'} LIMIT ${params.add(page.limit + 1)}`,
      params.values,
    );
    return rows.map((record) => ({ key: BigInt(record.position), row: ledgerEntryOf(record) }));
  },
};
