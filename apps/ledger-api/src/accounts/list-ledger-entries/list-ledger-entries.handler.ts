import { QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import { ledgerEntriesTable, type LedgerEntryRow } from '@ledger/projections';
import { keyedPageOf, type Page } from '../../queries/page.js';
import { ReadModel } from '../../queries/read-model.js';
import { ListLedgerEntriesQuery } from './list-ledger-entries.query.js';

@QueryHandler(ListLedgerEntriesQuery)
export class ListLedgerEntriesHandler implements IQueryHandler<ListLedgerEntriesQuery> {
  constructor(private readonly readModel: ReadModel) {}

  async execute({ accountId, order, page, consistency }: ListLedgerEntriesQuery): Promise<Page<LedgerEntryRow>> {
    const rows = await this.readModel.read(consistency, (db) =>
      ledgerEntriesTable.pageByAccount(db, accountId, order, page),
    );
    // An account's first grant is its first entry: no rows and no cursor means no such account.
    if (rows.length === 0 && page.after === undefined) await this.readModel.assertAccountExists(accountId);
    return keyedPageOf(rows, page);
  }
}
