import { QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import { pageOf, type Page } from '../../queries/page.js';
import { READ_TABLES, ReadModel, SqlParams } from '../../queries/read-model.js';
import { PROJECT_COLUMNS, projectView, type ProjectRow, type ProjectView } from '../project.view.js';
import { ListProjectsQuery } from './list-projects.query.js';

/**
 * Keyset pagination on `started_position` (unique, indexed with `account_id`
 * and with `status`): a page costs the same at any depth, and projects
 * started while a caller walks the pages can't shift or repeat its rows.
 */
@QueryHandler(ListProjectsQuery)
export class ListProjectsHandler implements IQueryHandler<ListProjectsQuery> {
  constructor(private readonly readModel: ReadModel) {}

  async execute({ filter, page, consistency }: ListProjectsQuery): Promise<Page<ProjectView>> {
    const params = new SqlParams();
    const where: string[] = [];
    if (filter.accountId !== undefined) where.push(`account_id = ${params.add(filter.accountId)}`);
    if (filter.status !== undefined) where.push(`status = ${params.add(filter.status)}`);
    if (filter.missingAssets) where.push(`status = 'completed' AND asset_url IS NULL`);
    if (page.after !== undefined) where.push(`started_position < ${params.add(page.after.toString())}`);
    const rows = await this.readModel.read<ProjectRow>(
      consistency,
      `SELECT ${PROJECT_COLUMNS} FROM ${READ_TABLES.projects}
       ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY started_position DESC LIMIT ${params.add(page.limit + 1)}`,
      params.values,
    );
    if (rows.length === 0 && filter.accountMustExist && filter.accountId !== undefined) {
      await this.readModel.assertAccountExists(filter.accountId);
    }
    return pageOf(rows, page, (row) => BigInt(row.started_position), projectView);
  }
}
