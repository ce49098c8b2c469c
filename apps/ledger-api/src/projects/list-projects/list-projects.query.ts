import { Query } from '@nestjs/cqrs';
import type { ProjectRow, ProjectsFilter } from '@ledger/projections';
import type { Page, PageRequest } from '../../queries/page.js';
import type { Consistency } from '../../queries/read-query.dto.js';

export interface ProjectFilter extends ProjectsFilter {
  /** Answer 404 when the account has no balance row (the list is an account's sub-resource). */
  accountMustExist?: boolean;
}

/** Projects newest first (by the position of their start), filtered, one page. */
export class ListProjectsQuery extends Query<Page<ProjectRow>> {
  constructor(
    readonly filter: ProjectFilter,
    readonly page: PageRequest,
    readonly consistency: Consistency,
  ) {
    super();
  }
}
