import { Query } from '@nestjs/cqrs';
import type { Page, PageRequest } from '../../queries/page.js';
import type { Consistency } from '../../queries/read-query.dto.js';
import type { ProjectStatusFilter, ProjectView } from '../project.view.js';

export interface ProjectFilter {
  accountId?: string;
  status?: ProjectStatusFilter;
  /** Completed projects without a result asset (`assets.assetUrl`): for repairs. */
  missingAssets?: boolean;
  /** Answer 404 when the account has no balance row (the list is an account's sub-resource). */
  accountMustExist?: boolean;
}

/** Projects newest first (by the position of their start), filtered, one page. */
export class ListProjectsQuery extends Query<Page<ProjectView>> {
  constructor(
    readonly filter: ProjectFilter,
    readonly page: PageRequest,
    readonly consistency: Consistency,
  ) {
    super();
  }
}
