import type pg from 'pg';

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

/** What balance.low needs of an account (ledger_api.outbound_accounts, migrations 0006 and 0011). */
export interface NoticeAccount {
  /** Undefined: not kept (no endpoint needed it since the account's last event); folded from its stream when needed. */
  balance: number | undefined;
  /** Set on the account (null: none); undefined: never set, the configured default applies. */
  threshold: number | null | undefined;
}

export interface DueLot {
  account_id: string;
  grant_id: string;
  remaining: string;
  expires_at: Date;
  category: string | null;
  position: string;
}

/** The notice tables' one home: what the dispatcher's fold keeps to notice balance.low and credits.expiring. */
export const noticeTables = {
  async accounts(db: Queryable, accountIds: readonly string[]): Promise<Map<string, NoticeAccount>> {
    const { rows } = await db.query<{
      account_id: string;
      balance: string | null;
      low_balance_threshold: string | null;
      threshold_set: boolean;
    }>('SELECT * FROM ledger_api.outbound_accounts WHERE account_id = ANY($1)', [accountIds]);
    return new Map(
      rows.map((r) => [
        r.account_id,
        {
          balance: r.balance === null ? undefined : Number(r.balance),
          threshold: r.threshold_set
            ? r.low_balance_threshold === null
              ? null
              : Number(r.low_balance_threshold)
            : undefined,
        },
      ]),
    );
  },

  async saveAccounts(db: Queryable, accounts: ReadonlyMap<string, NoticeAccount>): Promise<void> {
    if (accounts.size === 0) return;
    const entries = [...accounts];
    await db.query(
      `INSERT INTO ledger_api.outbound_accounts (account_id, balance, low_balance_threshold, threshold_set)
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::boolean[])
       ON CONFLICT (account_id) DO UPDATE SET balance = excluded.balance,
         low_balance_threshold = excluded.low_balance_threshold, threshold_set = excluded.threshold_set`,
      [
        entries.map(([id]) => id),
        entries.map(([, a]) => (a.balance === undefined ? null : String(a.balance))),
        entries.map(([, a]) => (a.threshold === null || a.threshold === undefined ? null : String(a.threshold))),
        entries.map(([, a]) => a.threshold !== undefined),
      ],
    );
  },

  /** Balances are kept again after a time when they were not: those kept before are stale. */
  async forgetBalances(db: Queryable): Promise<void> {
    await db.query('UPDATE ledger_api.outbound_accounts SET balance = NULL WHERE balance IS NOT NULL');
  },

  async addLot(
    db: Queryable,
    lot: {
      accountId: string;
      grantId: string;
      amount: number;
      expiresAt: string;
      category: string | null;
      position: bigint;
    },
  ): Promise<void> {
    await db.query(
      `INSERT INTO ledger_api.outbound_lots (account_id, grant_id, remaining, expires_at, category, position)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
      [lot.accountId, lot.grantId, lot.amount, lot.expiresAt, lot.category, String(lot.position)],
    );
  },

  /** A debit's draws (negative) or a refund's returns (positive) on the lots still awaiting their notice. */
  async moveLots(db: Queryable, accountId: string, shares: readonly { grantId: string; amount: number }[]) {
    if (shares.length === 0) return;
    await db.query(
      `UPDATE ledger_api.outbound_lots l SET remaining = l.remaining + x.amount
       FROM unnest($2::text[], $3::bigint[]) AS x(grant_id, amount)
       WHERE l.account_id = $1 AND l.grant_id = x.grant_id`,
      [accountId, shares.map((s) => s.grantId), shares.map((s) => String(s.amount))],
    );
  },

  /** `account\ngrant` of every lot still awaiting its notice. */
  async lotKeys(db: Queryable): Promise<Set<string>> {
    const { rows } = await db.query<{ key: string }>(
      "SELECT account_id || E'\\n' || grant_id AS key FROM ledger_api.outbound_lots",
    );
    return new Set(rows.map((r) => r.key));
  },

  async dropLot(db: Queryable, accountId: string, grantId: string): Promise<void> {
    await db.query('DELETE FROM ledger_api.outbound_lots WHERE account_id = $1 AND grant_id = $2', [
      accountId,
      grantId,
    ]);
  },

  /**
   * Lots whose notice is due (expiring before `noticeUntil`), taken out of the table in
   * the caller's transaction; those already past `now` are dropped without a notice
   * (their credits.expired says more).
   */
  async takeDueLots(db: Queryable, now: Date, noticeUntil: Date, limit: number): Promise<DueLot[]> {
    await db.query('DELETE FROM ledger_api.outbound_lots WHERE expires_at <= $1', [now]);
    const { rows } = await db.query<DueLot>(
      `DELETE FROM ledger_api.outbound_lots WHERE (account_id, grant_id) IN (
         SELECT account_id, grant_id FROM ledger_api.outbound_lots WHERE expires_at <= $1
         ORDER BY expires_at LIMIT $2 FOR UPDATE)
       RETURNING *`,
      [noticeUntil, limit],
    );
    return rows;
  },
};
