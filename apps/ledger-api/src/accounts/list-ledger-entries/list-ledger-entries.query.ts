import { Query } from '@nestjs/cqrs';
import type { LedgerEntryRow, LedgerOrder } from '@ledger/projections';
import type { Page, PageRequest } from '../../queries/page.js';
import type { Consistency } from '../../queries/read-query.dto.js';

/** An account's ledger entries, one page, newest first (`desc`) or oldest first (`asc`). */
export class ListLedgerEntriesQuery extends Query<Page<LedgerEntryRow>> {
  constructor(
    readonly accountId: string,
    readonly order: LedgerOrder,
    readonly page: PageRequest,
    readonly consistency: Consistency,
  ) {
    super();
  }
}
