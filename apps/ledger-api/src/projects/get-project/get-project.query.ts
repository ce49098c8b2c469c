import { Query } from '@nestjs/cqrs';
import type { Consistency } from '../../queries/read-query.dto.js';
import type { ProjectView } from '../project.view.js';

export class GetProjectQuery extends Query<ProjectView> {
  constructor(
    readonly projectId: string,
    readonly consistency: Consistency,
  ) {
    super();
  }
}
