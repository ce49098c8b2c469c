import { Query } from '@nestjs/cqrs';
import type { Page, PageRequest } from '../../queries/page.js';
import type { UnmatchedView } from '../unmatched-webhooks.js';

/** Verified deliveries whose task no project had, newest first, one page. */
export class ListUnmatchedQuery extends Query<Page<UnmatchedView>> {
  constructor(readonly page: PageRequest) {
    super();
  }
}
