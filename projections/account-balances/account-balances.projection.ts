import { accountIdOf, applyMoney, NO_MONEY, type AccountMoney } from '@ledger/domain';
import type { StoredEvent } from '@ledger/event-store';
import { asLedgerEvent, isAccountEvent } from '../ledger-event.js';
import { amountOf, valuesList, type Projection, type RowChange } from '../projection.js';
import {
  ACCOUNT_BALANCE_COLUMNS,
  ACCOUNT_BALANCES_TABLE,
  MONEY_COLUMNS,
  MONEY_FIELDS,
} from './account-balances.table.js';

interface Delta {
  /** Only an account whose first money event is a grant may be created (as in the domain). */
  opensWithGrant: boolean;
  /** The batch's movements of the account, summed as the account's money sums them. */
  money: AccountMoney;
  firstAt: Date;
  lastAt: Date;
  position: bigint;
}

/**
 * Each account's balance and running totals, for dashboards and
 * `GET /v1/accounts/{id}`. A batch becomes two statements: new accounts'
 * rows, then the per-account sums of its money events added to every row.
 */
export const accountBalancesProjection: Projection = {
  name: 'account_balances',
  tables: [ACCOUNT_BALANCES_TABLE],
  map(events: readonly StoredEvent[], schema: string): RowChange[] {
    const deltas = new Map<string, Delta>();
    for (const stored of events) {
      const event = asLedgerEvent(stored);
      const accountId = accountIdOf(stored.streamName);
      if (!accountId || !event || !isAccountEvent(event)) continue;
      // Throws on an amount that is not a safe integer, which the fold below would trust.
      amountOf(event);
      const delta = deltas.get(accountId);
      if (delta) {
        delta.money = applyMoney(delta.money, event);
        delta.lastAt = event.createdAt;
        delta.position = event.position;
      } else {
        deltas.set(accountId, {
          opensWithGrant: event.type === 'CreditsGranted',
          money: applyMoney(NO_MONEY, event),
          firstAt: event.createdAt,
          lastAt: event.createdAt,
          position: event.position,
        });
      }
    }
    if (deltas.size === 0) return [];
    const table = `${schema}.${ACCOUNT_BALANCES_TABLE}`;
    const rows = [...deltas];
    // A debit or refund of an account with no row makes the update below miss it: a
    // failed row count, which stops the projection (a corrupt or foreign log).
    const opening = rows.filter(([, d]) => d.opensWithGrant);
    return [
      ...(opening.length === 0
        ? []
        : [
            {
              // New accounts start at zero (a CHECK is tested on a proposed row even when it
              // conflicts, so the sums can't ride on the insert).
              text: `INSERT INTO ${table} (${ACCOUNT_BALANCE_COLUMNS.join(', ')})
               SELECT v.account_id, ${MONEY_COLUMNS.map(() => '0').join(', ')}, v.first_at::timestamptz, v.first_at::timestamptz, v.position::bigint
               FROM (VALUES ${valuesList(opening.length, 3)}) AS v(account_id, first_at, position)
               ON CONFLICT (account_id) DO NOTHING`,
              values: opening.flatMap(([accountId, d]) => [accountId, d.firstAt, d.position.toString()]),
            },
          ]),
      {
        text: `UPDATE ${table} AS t SET ${MONEY_COLUMNS.map((c) => `${c} = t.${c} + v.${c}::bigint`).join(', ')},
                 updated_at = v.last_at::timestamptz, position = v.position::bigint
               FROM (VALUES ${valuesList(rows.length, MONEY_COLUMNS.length + 3)})
                 AS v(account_id, ${MONEY_COLUMNS.join(', ')}, last_at, position)
               WHERE t.account_id = v.account_id`,
        values: rows.flatMap(([accountId, d]) => [
          accountId,
          ...MONEY_FIELDS.map((field) => String(d.money[field])),
          d.lastAt,
          d.position.toString(),
        ]),
        expectRows: rows.length,
      },
    ];
  },
};
