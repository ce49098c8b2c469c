import { accountIdOf, type CreditsGranted, type LotShare } from '@ledger/domain';
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
    priority: data.priority ?? LEGACY_PRIORITY,
    expiresAt: data.expiresAt ?? null,
  };
}

// API.md's default priority, which a grant from before lots is given.
const LEGACY_PRIORITY = 50;

/** What a batch does to one lot granted before it, summed. */
interface LotDelta {
  accountId: string;
  grantId: string;
  remaining: bigint;
  /** Set when the batch expired or voided the lot: its final status. */
  closedAs: 'expired' | 'voided' | null;
  at: Date;
  position: bigint;
}

/** The statements of a run of events whose lots are named: one insert, one update. */
class Segment {
  readonly grants: SqlValue[][] = [];
  readonly deltas = new Map<string, LotDelta>();

  share(
    accountId: string,
    share: LotShare,
    sign: 1n | -1n,
    at: Date,
    position: bigint,
    closedAs?: 'expired' | 'voided',
  ) {
    const key = JSON.stringify([accountId, share.grantId]);
    const delta = this.deltas.get(key) ?? {
      accountId,
      grantId: share.grantId,
      remaining: 0n,
      closedAs: null,
      at,
      position,
    };
    delta.remaining += sign * BigInt(share.amount);
    delta.closedAs = closedAs ?? delta.closedAs;
    delta.at = at;
    delta.position = position;
    this.deltas.set(key, delta);
  }

  statements(table: string): RowChange[] {
    const changes: RowChange[] = [];
    if (this.grants.length > 0) {
      changes.push({
        text: `INSERT INTO ${table} (${LOT_COLUMNS.join(', ')})
               SELECT v.account_id, v.grant_id, v.category, v.source, v.reference, v.priority::integer, v.granted::bigint,
                 v.granted::bigint, v.expires_at::timestamptz, 'active', v.at::timestamptz, v.position::bigint,
                 v.at::timestamptz, v.position::bigint
               FROM (VALUES ${valuesList(this.grants.length, 10)})
                 AS v(account_id, grant_id, category, source, reference, priority, granted, expires_at, at, position)`,
        values: this.grants.flat(),
        expectRows: this.grants.length,
      });
    }
    const deltas = [...this.deltas.values()];
    if (deltas.length > 0) {
      changes.push({
        // A lot expired or voided keeps that status (a refund to it is taken again in the
        // same append); otherwise it is active while it holds credits.
        text: `UPDATE ${table} AS t SET remaining = t.remaining + v.delta::bigint,
                 status = CASE WHEN v.closed_as IS NOT NULL THEN v.closed_as
                               WHEN t.status IN ('expired', 'voided') THEN t.status
                               WHEN t.remaining + v.delta::bigint > 0 THEN 'active' ELSE 'exhausted' END,
                 updated_at = v.at::timestamptz, position = v.position::bigint
               FROM (VALUES ${valuesList(deltas.length, 6)}) AS v(account_id, grant_id, delta, closed_as, at, position)
               WHERE t.account_id = v.account_id AND t.grant_id = v.grant_id`,
        values: deltas.flatMap((d) => [
          d.accountId,
          d.grantId,
          d.remaining.toString(),
          d.closedAs,
          d.at,
          d.position.toString(),
        ]),
        expectRows: deltas.length,
      });
    }
    return changes;
  }
}

/**
 * A debit or refund written before lots names no lots: it drew (returned) by the spending
 * order, as the domain's `drawInOrder` and `returnInOrder` fold it (nothing counts as
 * expired then). Only streams from before lots hold them, so this runs for history alone,
 * one statement per such event; every event written since names its lots.
 */
function unnamedShares(
  table: string,
  accountId: string,
  kind: 'Debited' | 'Refunded',
  amount: string,
  at: Date,
  position: bigint,
): RowChange {
  // A debit takes from the active lots; a refund gives each lot back up to what was drawn
  // from it. Both in the spending order.
  const debit = kind === 'Debited';
  const room = debit ? 'remaining' : '(granted - remaining)';
  return {
    text: `WITH ordered AS (
             SELECT grant_id, ${room} AS room, sum(${room}) OVER (ORDER BY ${LOT_SPENDING_ORDER_KEY}) - ${room} AS before
             FROM ${table} WHERE account_id = $1 AND ${debit ? `status = 'active'` : `granted > remaining`}),
           shares AS (SELECT grant_id, least(room, $2::bigint - before) AS amount FROM ordered WHERE before < $2::bigint)
           UPDATE ${table} AS t SET remaining = t.remaining ${debit ? '-' : '+'} s.amount,
             status = CASE WHEN t.status IN ('expired', 'voided') THEN t.status
                           WHEN t.remaining ${debit ? '-' : '+'} s.amount > 0 THEN 'active' ELSE 'exhausted' END,
             updated_at = $3::timestamptz, position = $4::bigint
           FROM shares s WHERE t.account_id = $1 AND t.grant_id = s.grant_id`,
    values: [accountId, amount, at, position.toString()],
  };
}

/**
 * One row per lot with what remains of it and its status (`GET .../lots`, the
 * watchdog's expiry sweep, reconciliation's I7). Events that name their lots are summed
 * per lot over the batch: one insert of the new lots and one update of the lots they
 * touched. Each debit or refund from before lots is applied in its place in the order.
 */
export const lotsProjection: Projection = {
  name: 'lots',
  tables: [LOTS_TABLE],
  map(events: readonly StoredEvent[], schema: string): RowChange[] {
    const table = `${schema}.${LOTS_TABLE}`;
    const changes: RowChange[] = [];
    let segment = new Segment();
    for (const stored of events) {
      const event = asLedgerEvent(stored);
      const accountId = accountIdOf(stored.streamName);
      if (!accountId || !event || !isAccountEvent(event)) continue;
      const amount = amountOf(event);
      const { createdAt: at, position } = event;
      switch (event.type) {
        case 'CreditsGranted': {
          const lot = lotOfGrant(event);
          segment.grants.push([
            accountId,
            lot.grantId,
            lot.category,
            event.data.source,
            event.data.reference ?? null,
            String(lot.priority),
            amount,
            lot.expiresAt,
            at,
            position.toString(),
          ]);
          break;
        }
        case 'Debited':
        case 'Refunded': {
          const sign = event.type === 'Debited' ? -1n : 1n;
          if (event.data.lots) {
            for (const share of event.data.lots) segment.share(accountId, share, sign, at, position);
          } else {
            changes.push(
              ...segment.statements(table),
              unnamedShares(table, accountId, event.type, amount, at, position),
            );
            segment = new Segment();
          }
          break;
        }
        case 'CreditsExpired':
          segment.share(accountId, event.data, -1n, at, position, 'expired');
          break;
        case 'GrantVoided':
          segment.share(accountId, event.data, -1n, at, position, 'voided');
          break;
      }
    }
    return [...changes, ...segment.statements(table)];
  },
};
