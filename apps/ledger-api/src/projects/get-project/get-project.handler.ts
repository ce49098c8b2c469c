import { QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import { projectsTable, type ProjectRow } from '@ledger/projections';
import { ReadModel } from '../../queries/read-model.js';
import { GetProjectQuery } from './get-project.query.js';

@QueryHandler(GetProjectQuery)
export class GetProjectHandler implements IQueryHandler<GetProjectQuery> {
  constructor(private readonly readModel: ReadModel) {}

  execute({ projectId, consistency }: GetProjectQuery): Promise<ProjectRow> {
    return this.readModel.found(consistency, 'project', projectId, (db) => projectsTable.byId(db, projectId));
  }
}
