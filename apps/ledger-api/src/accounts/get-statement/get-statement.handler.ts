import assert from 'node:assert';
import { QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import { ledgerEntriesTable, type BalancesAt, type LedgerEntryRow } from '@ledger/projections';
import { ApiError } from '../../errors/api-error.js';
import { ReadModel } from '../../queries/read-model.js';
import { GetStatementQuery, type Balances, type StatementTotals, type StatementView } from './get-statement.query.js';

/** The most entries one statement lists: a longer period is refused (400) and asked for in parts. */
export const STATEMENT_ENTRIES_MAX = 10_000;

const TOTAL_OF_TYPE: Record<string, keyof StatementTotals> = {
  CreditsGranted: 'granted',
  Debited: 'debited',
  Refunded: 'refunded',
  CreditsExpired: 'expired',
  GrantVoided: 'voided',
};

/**
 * The opening balances (after the last entry before `from`), the closing ones (after the
 * last entry at or before `to`) and the entries between those two, all from one snapshot,
 * so that closing = opening + granted − debited + refunded − expired − voided holds
 * exactly. The entries are taken by position between the two, so that an entry whose
 * `at` is out of order by a clock's skew still lands in the statement that sums it.
 */
@QueryHandler(GetStatementQuery)
export class GetStatementHandler implements IQueryHandler<GetStatementQuery> {
  constructor(private readonly readModel: ReadModel) {}

  async execute({ accountId, from, to, consistency }: GetStatementQuery): Promise<StatementView> {
    if (from > to) {
      throw new ApiError(400, 'validation_failed', 'from must not be after to', [
        { field: 'from', problems: ['from must not be after to'] },
      ]);
    }
    const { opening, closing, entries, exists } = await this.readModel.snapshot(consistency, async (db) => {
      const first = await ledgerEntriesTable.balancesAt(db, accountId, from, 'before');
      const last = await ledgerEntriesTable.balancesAt(db, accountId, to);
      const after = first?.position ?? 0;
      // (A closing entry before the opening one, by a clock's skew, is a period with no entries.)
      if (!last || last.position <= after) return { opening: first, closing: first, entries: [], exists: !!last };
      const lines = await ledgerEntriesTable.range(db, accountId, after, last.position, STATEMENT_ENTRIES_MAX + 1);
      return { opening: first, closing: last, entries: lines, exists: true };
    });
    if (!exists) await this.readModel.assertAccountExists(accountId);
    if (entries.length > STATEMENT_ENTRIES_MAX) {
      throw new ApiError(400, 'validation_failed', `the period holds more than ${STATEMENT_ENTRIES_MAX} entries`, [
        { field: 'to', problems: [`narrow the period: at most ${STATEMENT_ENTRIES_MAX} entries per statement`] },
      ]);
    }
    const statement = {
      accountId,
      from: from.toISOString(),
      to: to.toISOString(),
      opening: balancesOf(opening),
      closing: balancesOf(closing),
      totals: totalsOf(entries),
      entries,
    };
    const { opening: o, closing: c, totals: t } = statement;
    assert(
      c.balance === o.balance + t.granted - t.debited + t.refunded - t.expired - t.voided,
      `statement of ${accountId}: the closing balance does not follow from the opening one and the totals`,
    );
    return statement;
  }
}

function balancesOf(at: BalancesAt | undefined): Balances {
  return at
    ? { balance: at.balance, paid: at.paid, promotional: at.promotional }
    : { balance: 0, paid: 0, promotional: 0 };
}

function totalsOf(entries: readonly LedgerEntryRow[]): StatementTotals {
  const totals: StatementTotals = { granted: 0, debited: 0, refunded: 0, expired: 0, voided: 0 };
  for (const entry of entries) {
    const total = TOTAL_OF_TYPE[entry.type];
    assert(total !== undefined, `ledger entry of type ${entry.type}`);
    totals[total] += entry.amount;
  }
  return totals;
}
