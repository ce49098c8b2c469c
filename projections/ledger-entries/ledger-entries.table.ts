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
  'grant_id',
  'category',
  'lots',
  'paid_after',
  'promotional_after',
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
  /** The lot a grant made, or the lot an expiry or a void took from. */
  grant_id: string | null;
  /** A grant's lot's category (the entries that draw from the lot read it here). */
  category: string | null;
  /** What a debit drew from each lot or a refund returned (absent on entries from before lots). */
  lots: { grantId: string; amount: number }[] | null;
  paid_after: string;
  promotional_after: string;
}

type ListedRecord = Omit<LedgerEntryRecord, 'account_id' | 'event_id' | 'category'>;
const LISTED = `position, type, amount, balance_after, paid_after, promotional_after, project_id, reason, source, reference, grant_id, lots, at`;

/** One money movement of an account and the balance right after it. Optional fields are left out when unset. */
function ledgerEntryOf(record: ListedRecord) {
  return {
    position: integerOf(record.position),
    type: record.type,
    amount: integerOf(record.amount),
    balanceAfter: integerOf(record.balance_after),
    paidAfter: integerOf(record.paid_after),
    promotionalAfter: integerOf(record.promotional_after),
    ...(record.project_id === null ? {} : { projectId: record.project_id }),
    ...(record.reason === null ? {} : { reason: record.reason }),
    ...(record.source === null ? {} : { source: record.source }),
    ...(record.reference === null ? {} : { reference: record.reference }),
    ...(record.grant_id === null ? {} : { grantId: record.grant_id }),
    // jsonb keeps its keys sorted: named in the events' order again.
    ...(record.lots === null ? {} : { lots: record.lots.map(({ grantId, amount }) => ({ grantId, amount })) }),
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
      `SELECT ${LISTED}
       FROM ${TABLE} WHERE ${where.join(' AND ')}
       ORDER BY position ${order === 'desc' ? 'DESC' : 'ASC'} LIMIT ${params.add(page.limit + 1)}`,
      params.values,
    );
    return rows.map((record) => ({ key: BigInt(record.position), row: ledgerEntryOf(record) }));
  },

  /**
   * The account's balances as of its last entry at or before `at` (or strictly before it:
   * `bound` 'before'), the latest `at` then the latest position (ledger_entries_account_at_idx);
   * undefined before its first.
   */
  async balancesAt(
    db: Queryable,
    accountId: string,
    at: Date,
    bound: 'at-or-before' | 'before' = 'at-or-before',
  ): Promise<BalancesAt | undefined> {
    const { rows } = await db.query<BalancesRecord>(
      `SELECT balance_after, paid_after, promotional_after, position FROM ${TABLE}
       WHERE account_id = $1 AND at ${bound === 'before' ? '<' : '<='} $2 ORDER BY at DESC, position DESC LIMIT 1`,
      [accountId, at],
    );
    return rows[0] && balancesOf(rows[0]);
  },

  /**
   * The account's entries after position `after` up to `last` included, oldest first, at
   * most `limit`: a statement's lines between its opening and its closing entry.
   */
  async range(db: Queryable, accountId: string, after: number, last: number, limit: number): Promise<LedgerEntryRow[]> {
    const { rows } = await db.query<ListedRecord>(
      `SELECT ${LISTED} FROM ${TABLE}
       WHERE account_id = $1 AND position > $2 AND position <= $3 ORDER BY position LIMIT $4`,
      [accountId, after, last, limit],
    );
    return rows.map(ledgerEntryOf);
  },
};

type BalancesRecord = Pick<LedgerEntryRecord, 'balance_after' | 'paid_after' | 'promotional_after' | 'position'>;

function balancesOf(record: BalancesRecord) {
  return {
    balance: integerOf(record.balance_after),
    paid: integerOf(record.paid_after),
    promotional: integerOf(record.promotional_after),
    position: integerOf(record.position),
  };
}

/** The balances right after one entry, and its position. */
export type BalancesAt = ReturnType<typeof balancesOf>;
