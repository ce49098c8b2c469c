import { accountIdOf, applyMoney, NO_MONEY, type LotShare } from '@ledger/domain';
import type { StoredEvent } from '@ledger/event-store';
import { asLedgerEvent, isAccountEvent } from '../ledger-event.js';
import { lotOfGrant } from '../lots/lots.projection.js';
import { amountOf, valuesList, type Projection, type RowChange, type SqlValue } from '../projection.js';
import { LEDGER_ENTRIES_TABLE, LEDGER_ENTRY_COLUMNS } from './ledger-entries.table.js';

/** What an entry tells of its movement besides the amount; each kind of movement has some of them. */
type EntryFields = Readonly<{ projectId?: string; reason?: string; source?: string; reference?: string }>;

/** How an entry moves the paid part of the balance: what the batch knows, and the shares of lots granted before it. */
interface PaidMove {
  /** The signed paid amount of the shares whose lot's category is known here. */
  known: bigint;
  /** Shares of lots granted in earlier batches: their category is read from their grant's entry. */
  unresolved: LotShare[];
}

const VALUES = [
  'position',
  'account_id',
  'type',
  'amount',
  'delta',
  'project_id',
  'reason',
  'source',
  'reference',
  'event_id',
  'at',
  'grant_id',
  'category',
  'lots',
  'paid_known',
  'sign',
] as const;

/** A share of a lot granted in an earlier batch: whether it moves paid credits is read from its grant's entry. */
interface UnresolvedShare {
  position: string;
  account_id: string;
  grant_id: string;
  amount: number;
}

/**
 * One row per money movement, with the balance, paid and promotional, after it: why a
 * balance is what it is, for finance, and a balance at any instant in one read. Keeps its
 * own running balances (the account's latest entry before the batch plus a running sum
 * within it), and its own lots' categories (on the grants' entries), so it depends on no
 * other read model. A batch is one multi-row INSERT.
 */
export const ledgerEntriesProjection: Projection = {
  name: 'ledger_entries',
  tables: [LEDGER_ENTRIES_TABLE],
  map(events: readonly StoredEvent[], schema: string): RowChange[] {
    const entries: SqlValue[][] = [];
    const unresolved: UnresolvedShare[] = [];
    // The category of each lot granted in this batch, by account and grant.
    const categories = new Map<string, string>();
    const paidMove = (accountId: string, shares: readonly LotShare[], sign: 1n | -1n): PaidMove => {
      const move: PaidMove = { known: 0n, unresolved: [] };
      for (const share of shares) {
        const category = categories.get(JSON.stringify([accountId, share.grantId]));
        if (category === undefined) move.unresolved.push({ grantId: share.grantId, amount: share.amount });
        else if (category === 'paid') move.known += sign * BigInt(share.amount);
      }
      return move;
    };
    for (const stored of events) {
      const event = asLedgerEvent(stored);
      const accountId = accountIdOf(stored.streamName);
      if (!accountId || !event || !isAccountEvent(event)) continue;
      const amount = amountOf(event);
      // A void of a lot with nothing left moves no money (the lot's row says it is voided).
      if (amount === '0') continue;
      const { projectId, reason, source, reference }: EntryFields = event.data as EntryFields;
      let grantId: string | null = null;
      let category: string | null = null;
      let lots: readonly LotShare[] | null = null;
      let move: PaidMove;
      const sign = event.type === 'CreditsGranted' || event.type === 'Refunded' ? 1n : -1n;
      switch (event.type) {
        case 'CreditsGranted': {
          const lot = lotOfGrant(event);
          ({ grantId, category } = lot);
          categories.set(JSON.stringify([accountId, lot.grantId]), lot.category);
          move = { known: lot.category === 'paid' ? BigInt(amount) : 0n, unresolved: [] };
          break;
        }
        case 'Debited':
        case 'Refunded':
          lots = event.data.lots ?? null;
          // Before lots, every lot was paid (DESIGN.md): so was every movement.
          move = lots ? paidMove(accountId, lots, sign) : { known: sign * BigInt(amount), unresolved: [] };
          break;
        case 'CreditsExpired':
        case 'GrantVoided':
          grantId = event.data.grantId;
          move = paidMove(accountId, [event.data], sign);
          break;
      }
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
        grantId,
        category,
        lots === null ? null : JSON.stringify(lots),
        move.known.toString(),
        sign.toString(),
      ]);
      for (const share of move.unresolved)
        unresolved.push({
          position: event.position.toString(),
          account_id: accountId,
          grant_id: share.grantId,
          amount: share.amount,
        });
    }
    if (entries.length === 0) return [];
    const table = `${schema}.${LEDGER_ENTRIES_TABLE}`;
    const params = entries.length * VALUES.length;
    return [
      {
        // The lateral join reads the table as it was before this statement: each account's last
        // balances before the batch (once per account), to which the window adds the batch's
        // movements in order. Shares of lots granted in earlier batches find their grant's
        // entry in one join for the whole batch (summed per movement), not a lookup per row.
        text: `INSERT INTO ${table} (${LEDGER_ENTRY_COLUMNS.join(', ')})
               SELECT v.position::bigint, v.account_id, v.type, v.amount::bigint,
                 coalesce(p.balance_after, 0) + sum(v.delta::bigint) OVER w,
                 v.project_id, v.reason, v.source, v.reference, v.event_id::uuid, v.at::timestamptz,
                 v.grant_id, v.category, v.lots::jsonb,
                 coalesce(p.paid_after, 0) + sum(v.paid_delta) OVER w,
                 coalesce(p.promotional_after, 0) + sum(v.delta::bigint - v.paid_delta) OVER w
               FROM (
                 SELECT v.*, v.paid_known::bigint + v.sign::bigint * coalesce(u.paid, 0) AS paid_delta
                 FROM (VALUES ${valuesList(entries.length, VALUES.length)}) AS v(${VALUES.join(', ')})
                 LEFT JOIN (
                   SELECT s.position, sum(s.amount) AS paid
                   FROM jsonb_to_recordset($${params + 2}::jsonb) AS s(position bigint, account_id text, grant_id text, amount bigint)
                   CROSS JOIN LATERAL (
                     SELECT 1 FROM ${table} g
                     WHERE g.account_id = s.account_id AND g.grant_id = s.grant_id AND g.type = 'CreditsGranted'
                       AND g.category = 'paid'
                     LIMIT 1
                   ) g
                   GROUP BY s.position
                 ) u ON u.position = v.position::bigint
               ) v
               JOIN (
                 SELECT a.account_id, p.balance_after, p.paid_after, p.promotional_after
                 FROM jsonb_array_elements_text($${params + 1}::jsonb) AS a(account_id)
                 LEFT JOIN LATERAL (
                   SELECT balance_after, paid_after, promotional_after FROM ${table} p
                   WHERE p.account_id = a.account_id ORDER BY p.position DESC LIMIT 1
                 ) p ON true
               ) p ON p.account_id = v.account_id
               WINDOW w AS (PARTITION BY v.account_id ORDER BY v.position::bigint)`,
        values: [...entries.flat(), [...new Set(entries.map((entry) => entry[1] as string))], unresolved],
        expectRows: entries.length,
      },
    ];
  },
};
