import { QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import { lotsTable, type LotRow } from '@ledger/projections';
import { keyedPageOf, type Page } from '../../queries/page.js';
import { ReadModel } from '../../queries/read-model.js';
import { ListLotsQuery } from './list-lots.query.js';

@QueryHandler(ListLotsQuery)
export class ListLotsHandler implements IQueryHandler<ListLotsQuery> {
  constructor(private readonly readModel: ReadModel) {}

  async execute({ accountId, status, page, consistency }: ListLotsQuery): Promise<Page<LotRow>> {
    const rows = await this.readModel.read(consistency, (db) => lotsTable.page(db, accountId, status, page));
    // An account with no lots of this status may still exist: only an unknown one is 404.
    if (rows.length === 0 && page.after === undefined) await this.readModel.assertAccountExists(accountId);
    return keyedPageOf(rows, page);
  }
}
