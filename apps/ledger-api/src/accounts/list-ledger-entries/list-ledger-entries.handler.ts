import { QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import { integerOf, isoOf, pageOf, type Page } from '../../queries/page.js';
import { READ_TABLES, ReadModel, SqlParams } from '../../queries/read-model.js';
import { ListLedgerEntriesQuery, type LedgerEntryView } from './list-ledger-entries.query.js';

interface LedgerEntryRow {
  position: string;
  type: string;
  amount: string;
  balance_after: string;
  project_id: string | null;
  reason: string | null;
  source: string | null;
  reference: string | null;
  at: Date;
}

/** Keyset pagination on `position`, served by the `(account_id, position)` index in either direction. */
@QueryHandler(ListLedgerEntriesQuery)
export class ListLedgerEntriesHandler implements IQueryHandler<ListLedgerEntriesQuery> {
  constructor(private readonly readModel: ReadModel) {}

  async execute({ accountId, order, page, consistency }: ListLedgerEntriesQuery): Promise<Page<LedgerEntryView>> {
    const params = new SqlParams();
    const where = [`account_id = ${params.add(accountId)}`];
    if (page.after !== undefined) {
      where.push(`position ${order === 'desc' ? '<' : '>'} ${params.add(page.after.toString())}`);
    }
    const rows = await this.readModel.read<LedgerEntryRow>(
      consistency,
      `SELECT position, type, amount, balance_after, project_id, reason, source, reference, at
       FROM ${READ_TABLES.ledgerEntries} WHERE ${where.join(' AND ')}
       ORDER BY position ${order === 'desc' ? 'DESC' : 'ASC'} LIMIT ${params.add(page.limit + 1)}`,
      params.values,
    );
    // An account's first grant is its first entry: no rows and no cursor means no such account.
    if (rows.length === 0 && page.after === undefined) await this.readModel.assertAccountExists(accountId);
    return pageOf(rows, page, (row) => BigInt(row.position), ledgerEntryView);
  }
}

function ledgerEntryView(row: LedgerEntryRow): LedgerEntryView {
  return {
    position: integerOf(row.position),
    type: row.type,
    amount: integerOf(row.amount),
    balanceAfter: integerOf(row.balance_after),
    ...(row.project_id === null ? {} : { projectId: row.project_id }),
    ...(row.reason === null ? {} : { reason: row.reason }),
    ...(row.source === null ? {} : { source: row.source }),
    ...(row.reference === null ? {} : { reference: row.reference }),
    at: isoOf(row.at),
  };
}
