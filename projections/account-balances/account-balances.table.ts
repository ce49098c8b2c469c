import type { AccountMoney } from '@ledger/domain';
import { LIVE_SCHEMA } from '../projection.js';
import { integerOf, isoOf, type Positioned, type Queryable } from '../rows.js';

/**
 * `projections.account_balances`, one row per account: its columns, its row as the API
 * answers it, and every read of it. The account balances projection writes it;
 * migrations/ define it.
 */
export const ACCOUNT_BALANCES_TABLE = 'account_balances';
const TABLE = `${LIVE_SCHEMA}.${ACCOUNT_BALANCES_TABLE}`;

// The account's money (AccountMoney), as bigint columns.
export const MONEY_COLUMNS = [
  'balance',
  'total_granted',
  'total_debited',
  'total_refunded',
  'total_expired',
  'total_voided',
] as const;
/** AccountMoney's fields, in MONEY_COLUMNS' order. */
export const MONEY_FIELDS = [
  'balance',
  'totalGranted',
  'totalDebited',
  'totalRefunded',
  'totalExpired',
  'totalVoided',
] as const satisfies readonly (keyof AccountMoney)[];
type MoneyRecord = Record<(typeof MONEY_COLUMNS)[number], string>;

/** The columns in the table's order: the projection inserts them. */
export const ACCOUNT_BALANCE_COLUMNS = [
  'account_id',
  ...MONEY_COLUMNS,
  'created_at',
  'updated_at',
  'position',
] as const satisfies readonly (keyof AccountBalanceRecord)[];

/** A row as pg returns it: bigint as text, timestamptz as Date. */
export type AccountBalanceRecord = MoneyRecord & {
  account_id: string;
  created_at: Date;
  updated_at: Date;
  /** Position of the last event that changed the balance. */
  position: string;
};

function moneyOf(record: MoneyRecord): AccountMoney {
  return {
    balance: integerOf(record.balance),
    totalGranted: integerOf(record.total_granted),
    totalDebited: integerOf(record.total_debited),
    totalRefunded: integerOf(record.total_refunded),
    totalExpired: integerOf(record.total_expired),
    totalVoided: integerOf(record.total_voided),
  };
}

/** What `GET /v1/accounts/{accountId}` answers. */
function accountBalanceOf(record: Omit<AccountBalanceRecord, 'created_at'>) {
  return {
    accountId: record.account_id,
    ...moneyOf(record),
    updatedAt: isoOf(record.updated_at),
    position: integerOf(record.position),
  };
}

export type AccountBalanceRow = ReturnType<typeof accountBalanceOf>;

export const accountBalancesTable = {
  name: ACCOUNT_BALANCES_TABLE,

  async byId(db: Queryable, accountId: string): Promise<AccountBalanceRow | undefined> {
    const { rows } = await db.query<Omit<AccountBalanceRecord, 'created_at'>>(
      `SELECT account_id, ${MONEY_COLUMNS.join(', ')}, updated_at, position FROM ${TABLE} WHERE account_id = $1`,
      [accountId],
    );
    return rows[0] && accountBalanceOf(rows[0]);
  },

  /** An account exists once its first grant is projected: it has a row. */
  async exists(db: Queryable, accountId: string): Promise<boolean> {
    const { rows } = await db.query(`SELECT 1 FROM ${TABLE} WHERE account_id = $1`, [accountId]);
    return rows.length > 0;
  },

  /** Up to `limit` rows' money by id, after `afterId` ('' sorts before every id): pages of the whole table. */
  async moneyAfter(db: Queryable, afterId: string, limit: number): Promise<[string, AccountMoney][]> {
    const { rows } = await db.query<MoneyRecord & { account_id: string }>(
      `SELECT account_id, ${MONEY_COLUMNS.join(', ')} FROM ${TABLE} WHERE account_id > $1 ORDER BY account_id LIMIT $2`,
      [afterId, limit],
    );
    return rows.map((record) => [record.account_id, moneyOf(record)]);
  },

  /** The rows' money of these accounts, with the position of the last event each row applied. */
  async moneyByIds(db: Queryable, accountIds: readonly string[]): Promise<Map<string, Positioned<AccountMoney>>> {
    if (accountIds.length === 0) return new Map();
    const { rows } = await db.query<MoneyRecord & { account_id: string; position: string }>(
      `SELECT account_id, ${MONEY_COLUMNS.join(', ')}, position FROM ${TABLE} WHERE account_id = ANY($1::text[])`,
      [accountIds],
    );
    return new Map(rows.map((r) => [r.account_id, { row: moneyOf(r), position: BigInt(r.position) }]));
  },
};
