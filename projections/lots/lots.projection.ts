import { accountIdOf, LOT_PRIORITY_DEFAULT, type CreditsGranted, type LotShare } from '@ledger/domain';
import type { StoredEvent } from '@ledger/event-store';
import { asLedgerEvent, isAccountEvent } from '../ledger-event.js';
import { amountOf, valuesList, type Projection, type RowChange, type SqlValue } from '../projection.js';
import { LOT_COLUMNS, LOT_SPENDING_ORDER_KEY, LOTS_TABLE } from './lots.table.js';

/**
 * A lot as the grant made it. A grant written before lots has no lot fields: it is a
 * paid lot that never expires at the default priority, named after its event id (DESIGN.md).
 */
export function lotOfGrant(event: Readonly<{ id: string; data: CreditsGranted['data'] }>) {
  const { data } = event;
  return {
    grantId: data.grantId ?? event.id,
    category: data.category ?? 'paid',
    priority: data.priority ?? LOT_PRIORITY_DEFAULT,
    expiresAt: data.expiresAt ?? null,
  };
}

/** What a run of events that name their lots does to one lot, summed. */
interface LotDelta {
  accountId: string;
  grantId: string;
  remaining: bigint;
  /**
   * For each expiry the run recorded before any void: what the lot must hold before the
   * run for that expiry to leave nothing (it closes the lot then, as the domain folds it).
   * Which one closes it, if any, depends on the row: the update decides.
   */
  expiredIfHeld: bigint[];
  /** The run voided the lot (closed, unless an expiry above closed it before). */
  voided: boolean;
  at: Date;
  position: bigint;
}

/**
 * A debit or refund from before lots, which names none; or several adjacent ones of an
 * account, of one kind, as one draw (return) of their sum: `parts` keeps where each of
 * them ends in that sum, so a lot gets the time and position of the last of them that
 * moved it, as if they were applied one by one.
 */
interface Unnamed {
  account_id: string;
  kind: 'Debited' | 'Refunded';
  /** The sum of the parts' amounts; `at` and `position` are the last part's. */
  amount: number;
  at: string;
  position: string;
  parts: { upTo: number; at: string; position: string }[];
}

/** Every lot the batch grants, in one insert (they must exist before anything names them). */
function insertGrants(table: string, grants: SqlValue[][]): RowChange[] {
  if (grants.length === 0) return [];
  return [
    {
      text: `INSERT INTO ${table} (${LOT_COLUMNS.join(', ')})
             SELECT v.account_id, v.grant_id, v.category, v.source, v.reference, v.priority::integer, v.granted::bigint,
               v.granted::bigint, v.expires_at::timestamptz, 'active', v.at::timestamptz, v.position::bigint,
               v.at::timestamptz, v.position::bigint
             FROM (VALUES ${valuesList(grants.length, 10)})
               AS v(account_id, grant_id, category, source, reference, priority, granted, expires_at, at, position)`,
      values: grants.flat(),
      expectRows: grants.length,
    },
  ];
}

/** A run of named shares, summed per lot: one update of every lot it touched. */
function updateNamed(table: string, deltas: readonly LotDelta[]): RowChange[] {
  if (deltas.length === 0) return [];
  return [
    {
      // As the domain's fold, event by event, whatever the batch: a lot expired or voided
      // keeps that status (a refund to it is taken again in the same append); the first
      // close wins: an expiry that leaves nothing (a refund's part expired again leaves the
      // rest to the sweep), or else a void; otherwise a lot is active while it holds credits.
      text: `UPDATE ${table} AS t SET remaining = t.remaining + v.delta::bigint,
               status = CASE WHEN t.status IN ('expired', 'voided') THEN t.status
                             WHEN t.remaining = ANY(v.expired_if_held::bigint[]) THEN 'expired'
                             WHEN v.voided THEN 'voided'
                             WHEN t.remaining + v.delta::bigint > 0 THEN 'active' ELSE 'exhausted' END,
               updated_at = v.at::timestamptz, position = v.position::bigint
             FROM (VALUES ${valuesList(deltas.length, 7)})
               AS v(account_id, grant_id, delta, expired_if_held, voided, at, position)
             WHERE t.account_id = v.account_id AND t.grant_id = v.grant_id`,
      values: deltas.flatMap((d) => [
        d.accountId,
        d.grantId,
        d.remaining.toString(),
        `{${d.expiredIfHeld.join(',')}}`,
        d.voided,
        d.at,
        d.position.toString(),
      ]),
      expectRows: deltas.length,
    },
  ];
}

/**
 * A run of debits and refunds written before lots, which name none: each drew (returned)
 * by the spending order, as the domain's `drawInOrder` and `returnInOrder` fold them
 * (nothing counts as expired then), from the lots granted before it. Which lots depends
 * on every earlier one, so the run is applied in order, in one block per batch; only
 * streams from before lots hold such events (every event written since names its lots).
 * An account with a single lot (a common case: one grant so far) gets the run's net in one
 * update. One that finds too little to draw or return leaves the lots short of the balance:
 * reconciliation's I7 check reports it.
 */
function applyUnnamed(table: string, run: readonly Unnamed[]): RowChange[] {
  if (run.length === 0) return [];
  const order = LOT_SPENDING_ORDER_KEY;
  return [
    {
      text: `DO $unnamed$
DECLARE run jsonb := $1::jsonb; e record; l record; left_over bigint; take bigint; single text[];
  part integer; moved bigint;
BEGIN
  -- An account with one lot draws and returns all of it there: the run's net, in one update.
  SELECT coalesce(array_agg(r.account_id), '{}') INTO single
    FROM (SELECT DISTINCT account_id FROM jsonb_to_recordset(run) AS x(account_id text)) r
   WHERE (SELECT count(*) FROM ${table} c WHERE c.account_id = r.account_id) = 1;
  UPDATE ${table} AS t SET remaining = t.remaining + n.delta,
      status = CASE WHEN t.status IN ('expired', 'voided') THEN t.status
                    WHEN t.remaining + n.delta > 0 THEN 'active' ELSE 'exhausted' END,
      updated_at = n.at, position = n.position
    FROM (SELECT account_id, sum(CASE WHEN kind = 'Debited' THEN -amount ELSE amount END) AS delta,
                 max(position) AS position, (array_agg(at ORDER BY position DESC))[1] AS at
            FROM jsonb_to_recordset(run) AS x(account_id text, kind text, amount bigint, at timestamptz, position bigint)
           WHERE account_id = ANY(single) GROUP BY account_id) n
   WHERE t.account_id = n.account_id;
  -- A summed run stamps each lot with the part (event) that moved the last credit of its share; moved counts them.
  FOR e IN SELECT * FROM jsonb_to_recordset(run)
      AS x(account_id text, kind text, amount bigint, position bigint, parts jsonb)
      WHERE NOT (account_id = ANY(single)) ORDER BY position LOOP
    left_over := e.amount;
    moved := 0;
    part := 0;
    IF e.kind = 'Debited' THEN
      FOR l IN SELECT grant_id, remaining AS room FROM ${table}
          WHERE account_id = e.account_id AND status = 'active' AND granted_position < e.position ORDER BY ${order} LOOP
        EXIT WHEN left_over = 0;
        take := least(l.room, left_over);
        moved := moved + take;
        WHILE (e.parts->part->>'upTo')::bigint < moved LOOP part := part + 1; END LOOP;
        UPDATE ${table} SET remaining = remaining - take,
            status = CASE WHEN remaining - take > 0 THEN 'active' ELSE 'exhausted' END,
            updated_at = (e.parts->part->>'at')::timestamptz, position = (e.parts->part->>'position')::bigint
          WHERE account_id = e.account_id AND grant_id = l.grant_id;
        left_over := left_over - take;
      END LOOP;
    ELSE
      FOR l IN SELECT grant_id, granted - remaining AS room FROM ${table}
          WHERE account_id = e.account_id AND granted > remaining AND granted_position < e.position ORDER BY ${order} LOOP
        EXIT WHEN left_over = 0;
        take := least(l.room, left_over);
        moved := moved + take;
        WHILE (e.parts->part->>'upTo')::bigint < moved LOOP part := part + 1; END LOOP;
        UPDATE ${table} SET remaining = remaining + take,
            status = CASE WHEN status IN ('expired', 'voided') THEN status ELSE 'active' END,
            updated_at = (e.parts->part->>'at')::timestamptz, position = (e.parts->part->>'position')::bigint
          WHERE account_id = e.account_id AND grant_id = l.grant_id;
        left_over := left_over - take;
      END LOOP;
    END IF;
  END LOOP;
END
$unnamed$`,
      values: [run],
    },
  ];
}

/**
 * One row per lot with what remains of it and its status (`GET .../lots`, the
 * watchdog's expiry sweep, reconciliation's I7). A batch is an insert of its lots, then
 * its events that name their lots summed per lot (one update), and the debits and
 * refunds from before lots applied in order; the two alternate only where a batch
 * crosses from history to events with lots.
 */
export const lotsProjection: Projection = {
  name: 'lots',
  tables: [LOTS_TABLE],
  map(events: readonly StoredEvent[], schema: string): RowChange[] {
    const table = `${schema}.${LOTS_TABLE}`;
    const grants: SqlValue[][] = [];
    const runs: RowChange[] = [];
    let named = new Map<string, LotDelta>();
    let unnamed: Unnamed[] = [];
    // Each account's last unnamed event of the run: the next one of the same kind adds to
    // it as a part (two draws from the front are one draw of both; so are two returns),
    // unless the account was granted a lot between them.
    const lastUnnamed = new Map<string, Unnamed>();
    const share = (
      accountId: string,
      lot: LotShare,
      sign: 1n | -1n,
      event: { createdAt: Date; position: bigint },
      closedAs?: 'expired' | 'voided',
    ) => {
      if (unnamed.length > 0) {
        runs.push(...applyUnnamed(table, unnamed));
        unnamed = [];
        lastUnnamed.clear();
      }
      const key = JSON.stringify([accountId, lot.grantId]);
      const delta = named.get(key) ?? {
        accountId,
        grantId: lot.grantId,
        remaining: 0n,
        expiredIfHeld: [],
        voided: false,
        at: event.createdAt,
        position: event.position,
      };
      delta.remaining += sign * BigInt(lot.amount);
      // Held h before the run, the lot holds h + delta.remaining now: this expiry leaves
      // nothing iff h = -delta.remaining. After a void, the lot is closed already.
      if (closedAs === 'expired' && !delta.voided) delta.expiredIfHeld.push(-delta.remaining);
      if (closedAs === 'voided') delta.voided = true;
      delta.at = event.createdAt;
      delta.position = event.position;
      named.set(key, delta);
    };
    for (const stored of events) {
      const event = asLedgerEvent(stored);
      const accountId = accountIdOf(stored.streamName);
      if (!accountId || !event || !isAccountEvent(event)) continue;
      const amount = amountOf(event);
      switch (event.type) {
        case 'CreditsGranted': {
          const lot = lotOfGrant(event);
          lastUnnamed.delete(accountId);
          grants.push([
            accountId,
            lot.grantId,
            lot.category,
            event.data.source,
            event.data.reference ?? null,
            String(lot.priority),
            amount,
            lot.expiresAt,
            event.createdAt,
            event.position.toString(),
          ]);
          break;
        }
        case 'Debited':
        case 'Refunded':
          if (event.data.lots) {
            for (const lot of event.data.lots) share(accountId, lot, event.type === 'Debited' ? -1n : 1n, event);
          } else {
            if (named.size > 0) {
              runs.push(...updateNamed(table, [...named.values()]));
              named = new Map();
            }
            const { createdAt, position } = event;
            const last = lastUnnamed.get(accountId);
            const part = { upTo: Number(amount), at: createdAt.toISOString(), position: position.toString() };
            if (last?.kind === event.type) {
              part.upTo += last.amount;
              last.amount = part.upTo;
              last.at = part.at;
              last.position = part.position;
              last.parts.push(part);
            } else {
              const next: Unnamed = {
                account_id: accountId,
                kind: event.type,
                amount: part.upTo,
                at: part.at,
                position: part.position,
                parts: [part],
              };
              unnamed.push(next);
              lastUnnamed.set(accountId, next);
            }
          }
          break;
        case 'CreditsExpired':
          share(accountId, event.data, -1n, event, 'expired');
          break;
        case 'GrantVoided':
          share(accountId, event.data, -1n, event, 'voided');
          break;
      }
    }
    return [
      ...insertGrants(table, grants),
      ...runs,
      ...updateNamed(table, [...named.values()]),
      ...applyUnnamed(table, unnamed),
    ];
  },
};
