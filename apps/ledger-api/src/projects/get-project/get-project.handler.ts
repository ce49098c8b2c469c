import { QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import { ApiError } from '../../errors/api-error.js';
import { READ_TABLES, ReadModel } from '../../queries/read-model.js';
import { PROJECT_COLUMNS, projectView, type ProjectRow, type ProjectView } from '../project.view.js';
import { GetProjectQuery } from './get-project.query.js';

@QueryHandler(GetProjectQuery)
export class GetProjectHandler implements IQueryHandler<GetProjectQuery> {
  constructor(private readonly readModel: ReadModel) {}

  async execute({ projectId, consistency }: GetProjectQuery): Promise<ProjectView> {
    const [row] = await this.readModel.read<ProjectRow>(
      consistency,
      `SELECT ${PROJECT_COLUMNS} FROM ${READ_TABLES.projects} WHERE project_id = $1`,
      [projectId],
    );
    if (!row) throw new ApiError(404, 'not_found', `project ${projectId} does not exist`, { projectId });
    return projectView(row);
  }
}
