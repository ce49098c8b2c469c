import { LIVE_SCHEMA } from '../projection.js';
import { integerOf, isoOf, optionalIsoOf, SqlParams, type Keyed, type PageRequest, type Queryable } from '../rows.js';

/**
 * `projections.lots`, one row per lot (a grant) with what remains of it and its status:
 * its columns, its row as the API answers it, and its reads. The lots projection writes
 * it; migrations/ define it (0004).
 */
export const LOTS_TABLE = 'lots';
const TABLE = `${LIVE_SCHEMA}.${LOTS_TABLE}`;

export const LOT_STATUSES = ['active', 'exhausted', 'expired', 'voided'] as const;
export type LotStatus = (typeof LOT_STATUSES)[number];

/** The columns in the table's order: the projection inserts them. */
export const LOT_COLUMNS = [
  'account_id',
  'grant_id',
  'category',
  'source',
  'reference',
  'priority',
  'granted',
  'remaining',
  'expires_at',
  'status',
  'granted_at',
  'granted_position',
  'updated_at',
  'position',
] as const satisfies readonly (keyof LotRecord)[];

/** A row as pg returns it: bigint as text, timestamptz as Date. */
export interface LotRecord {
  account_id: string;
  grant_id: string;
  category: string;
  source: string;
  reference: string | null;
  priority: number;
  granted: string;
  remaining: string;
  expires_at: Date | null;
  status: LotStatus;
  granted_at: Date;
  granted_position: string;
  updated_at: Date;
  /** Position of the last event that changed the lot. */
  position: string;
}

/**
 * The spending order (API.md) as an ORDER BY over the table's columns, matching
 * lots_spending_order_idx. The domain decides with its `compareForSpending`; this key only
 * lists lots in that order (a spec checks the two agree).
 */
export const LOT_SPENDING_ORDER = [
  'priority',
  `coalesce(expires_at, 'infinity'::timestamptz)`,
  `(category = 'paid')`,
  'granted_position',
] as const;
export const LOT_SPENDING_ORDER_KEY = LOT_SPENDING_ORDER.join(', ');

const LISTED = `grant_id, category, source, reference, priority, granted, remaining, expires_at, status, granted_at, granted_position`;
type ListedRecord = Pick<
  LotRecord,
  | 'grant_id'
  | 'category'
  | 'source'
  | 'reference'
  | 'priority'
  | 'granted'
  | 'remaining'
  | 'expires_at'
  | 'status'
  | 'granted_at'
  | 'granted_position'
>;

/** What `GET /v1/accounts/{accountId}/lots` lists. */
function lotOf(record: ListedRecord) {
  return {
    grantId: record.grant_id,
    category: record.category,
    source: record.source,
    reference: record.reference,
    priority: record.priority,
    granted: integerOf(record.granted),
    remaining: integerOf(record.remaining),
    expiresAt: optionalIsoOf(record.expires_at),
    status: record.status,
    grantedAt: isoOf(record.granted_at),
  };
}

export type LotRow = ReturnType<typeof lotOf>;

/** An active lot past its expiry: the watchdog records its `CreditsExpired`. */
export interface LotDueForExpiry {
  accountId: string;
  grantId: string;
  expiresAt: Date;
}

/** What remains of an account's active lots by category, and the next expiry. */
export interface LotsSummary {
  paid: number;
  promotional: number;
  expiringNext: { at: string; amount: number } | null;
}

export const lotsTable = {
  name: LOTS_TABLE,

  /**
   * An account's lots of one status in the spending order, keyed on `granted_position`
   * (the cursor names the last lot; the page goes on after its place in the order).
   * Served by lots_spending_order_idx. Reads `limit + 1` (see `Keyed`).
   */
  async page(db: Queryable, accountId: string, status: LotStatus, page: PageRequest): Promise<Keyed<LotRow>[]> {
    const params = new SqlParams();
    const where = [`account_id = ${params.add(accountId)}`, `status = ${params.add(status)}`];
    if (page.after !== undefined) {
      where.push(
        `(${LOT_SPENDING_ORDER_KEY}) > (SELECT ${LOT_SPENDING_ORDER_KEY} FROM ${TABLE} WHERE granted_position = ${params.add(page.after.toString())})`,
      );
    }
    const { rows } = await db.query<ListedRecord>(
      `SELECT ${LISTED} FROM ${TABLE} WHERE ${where.join(' AND ')}
       ORDER BY ${LOT_SPENDING_ORDER_KEY} LIMIT ${params.add(page.limit + 1)}`,
      params.values,
    );
    return rows.map((record) => ({ key: BigInt(record.granted_position), row: lotOf(record) }));
  },

  /**
   * Up to `limit` lots by grant position, after `after`: pages of the whole table, for
   * reconciliation to compare with a fold.
   */
  async figuresAfter(db: Queryable, after: bigint, limit: number): Promise<Keyed<LotRow & { accountId: string }>[]> {
    const { rows } = await db.query<ListedRecord & { account_id: string }>(
      `SELECT account_id, ${LISTED} FROM ${TABLE} WHERE granted_position > $1 ORDER BY granted_position LIMIT $2`,
      [after.toString(), limit],
    );
    return rows.map((record) => ({
      key: BigInt(record.granted_position),
      row: { accountId: record.account_id, ...lotOf(record) },
    }));
  },

  /** The lots of these accounts, by account, each with the position of the last event its row applied. */
  async byAccounts(
    db: Queryable,
    accountIds: readonly string[],
  ): Promise<Map<string, { row: LotRow; position: bigint }[]>> {
    const lots = new Map<string, { row: LotRow; position: bigint }[]>();
    if (accountIds.length === 0) return lots;
    const { rows } = await db.query<ListedRecord & { account_id: string; position: string }>(
      `SELECT account_id, ${LISTED}, position FROM ${TABLE} WHERE account_id = ANY($1::text[])`,
      [accountIds],
    );
    for (const record of rows) {
      const ofAccount = lots.get(record.account_id) ?? [];
      ofAccount.push({ row: lotOf(record), position: BigInt(record.position) });
      lots.set(record.account_id, ofAccount);
    }
    return lots;
  },

  /** What remains of the account's active lots, paid and promotional, and the soonest expiry with its amount. */
  async summary(db: Queryable, accountId: string): Promise<LotsSummary> {
    const { rows } = await db.query<{
      paid: string;
      promotional: string;
      next_at: Date | null;
      next_amount: string | null;
    }>(
      `SELECT coalesce(sum(remaining) FILTER (WHERE category = 'paid'), 0) AS paid,
              coalesce(sum(remaining) FILTER (WHERE category = 'promotional'), 0) AS promotional,
              min(expires_at) AS next_at,
              sum(remaining) FILTER (WHERE expires_at = (SELECT min(expires_at) FROM ${TABLE}
                WHERE account_id = $1 AND status = 'active' AND expires_at IS NOT NULL)) AS next_amount
       FROM ${TABLE} WHERE account_id = $1 AND status = 'active'`,
      [accountId],
    );
    const row = rows[0];
    if (!row) return { paid: 0, promotional: 0, expiringNext: null };
    return {
      paid: integerOf(row.paid),
      promotional: integerOf(row.promotional),
      expiringNext:
        row.next_at === null || row.next_amount === null
          ? null
          : { at: isoOf(row.next_at), amount: integerOf(row.next_amount) },
    };
  },

  /**
   * Active lots past their expiry at `now` that still hold credits, the longest overdue
   * first, at most `limit` (lots_active_expiry_idx): the watchdog's expiry sweep.
   */
  async dueForExpiry(db: Queryable, now: Date, limit: number): Promise<LotDueForExpiry[]> {
    const { rows } = await db.query<Pick<LotRecord, 'account_id' | 'grant_id'> & { expires_at: Date }>(
      `SELECT account_id, grant_id, expires_at FROM ${TABLE}
       WHERE status = 'active' AND expires_at IS NOT NULL AND expires_at <= $1 AND remaining > 0
       ORDER BY expires_at, account_id, grant_id LIMIT $2`,
      [now, limit],
    );
    return rows.map((row) => ({ accountId: row.account_id, grantId: row.grant_id, expiresAt: row.expires_at }));
  },
};
