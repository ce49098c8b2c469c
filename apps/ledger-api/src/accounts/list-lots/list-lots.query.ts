import { Query } from '@nestjs/cqrs';
import type { LotRow, LotStatus } from '@ledger/projections';
import type { Page, PageRequest } from '../../queries/page.js';
import type { Consistency } from '../../queries/read-query.dto.js';

/** An account's lots of one status, one page, in the spending order. */
export class ListLotsQuery extends Query<Page<LotRow>> {
  constructor(
    readonly accountId: string,
    readonly status: LotStatus,
    readonly page: PageRequest,
    readonly consistency: Consistency,
  ) {
    super();
  }
}
