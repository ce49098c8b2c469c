import { Query } from '@nestjs/cqrs';
import type { Page, PageRequest } from '../../queries/page.js';
import type { KeptStatus, UnmatchedView } from '../unmatched-webhooks.js';

/** Verified deliveries whose task no project had, newest first, one page: of `status`, or those not applied. */
export class ListUnmatchedQuery extends Query<Page<UnmatchedView>> {
  constructor(
    readonly page: PageRequest,
    readonly status?: KeptStatus,
  ) {
    super();
  }
}
