import { Query } from '@nestjs/cqrs';
import type { ProjectRow } from '@ledger/projections';
import type { Consistency } from '../../queries/read-query.dto.js';

export class GetProjectQuery extends Query<ProjectRow> {
  constructor(
    readonly projectId: string,
    readonly consistency: Consistency,
  ) {
    super();
  }
}
