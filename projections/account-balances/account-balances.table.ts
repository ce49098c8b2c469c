import type { AccountMoney } from '@ledger/domain';
import { LIVE_SCHEMA } from '../projection.js';
import { integerOf, isoOf, type Queryable } from '../rows.js';

/**
 * `projections.account_balances`, one row per account: its columns, its row as the API
 * answers it, and every read of it. The account balances projection writes it;
 * migrations/ define it.
 */
export const ACCOUNT_BALANCES_TABLE = 'account_balances';
const TABLE = `${LIVE_SCHEMA}.${ACCOUNT_BALANCES_TABLE}`;

/** A row as pg returns it: bigint as text, timestamptz as Date. */
export interface AccountBalanceRecord {
  account_id: string;
  balance: string;
  total_granted: string;
  total_debited: string;
  total_refunded: string;
  created_at: Date;
  updated_at: Date;
  /** Position of the last event that changed the balance. */
  position: string;
}

type MoneyRecord = Pick<AccountBalanceRecord, 'balance' | 'total_granted' | 'total_debited' | 'total_refunded'>;
const MONEY_COLUMNS = 'balance, total_granted, total_debited, total_refunded';

function moneyOf(record: MoneyRecord): AccountMoney {
  return {
    balance: integerOf(record.balance),
    totalGranted: integerOf(record.total_granted),
    totalDebited: integerOf(record.total_debited),
    totalRefunded: integerOf(record.total_refunded),
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
      `SELECT account_id, ${MONEY_COLUMNS}, updated_at, position FROM ${TABLE} WHERE account_id = $1`,
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
      `SELECT account_id, ${MONEY_COLUMNS} FROM ${TABLE} WHERE account_id > $1 ORDER BY account_id LIMIT $2`,
      [afterId, limit],
    );
    return rows.map((record) => [record.account_id, moneyOf(record)]);
  },
};
