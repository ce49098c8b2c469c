import { QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import type { Page } from '../../queries/page.js';
import { UnmatchedWebhooks, type UnmatchedView } from '../unmatched-webhooks.js';
import { ListUnmatchedQuery } from './list-unmatched.query.js';

@QueryHandler(ListUnmatchedQuery)
export class ListUnmatchedHandler implements IQueryHandler<ListUnmatchedQuery> {
  constructor(private readonly unmatched: UnmatchedWebhooks) {}

  execute({ page, status }: ListUnmatchedQuery): Promise<Page<UnmatchedView>> {
    return this.unmatched.page(page, status);
  }
}
