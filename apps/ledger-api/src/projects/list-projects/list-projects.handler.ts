import { QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import { projectsTable, type ProjectRow } from '@ledger/projections';
import { keyedPageOf, type Page } from '../../queries/page.js';
import { ReadModel } from '../../queries/read-model.js';
import { ListProjectsQuery } from './list-projects.query.js';

@QueryHandler(ListProjectsQuery)
export class ListProjectsHandler implements IQueryHandler<ListProjectsQuery> {
  constructor(private readonly readModel: ReadModel) {}

  async execute({ filter, page, consistency }: ListProjectsQuery): Promise<Page<ProjectRow>> {
    const rows = await this.readModel.read(consistency, (db) => projectsTable.page(db, filter, page));
    if (rows.length === 0 && filter.accountMustExist && filter.accountId !== undefined) {
      await this.readModel.assertAccountExists(filter.accountId);
    }
    return keyedPageOf(rows, page);
  }
}
