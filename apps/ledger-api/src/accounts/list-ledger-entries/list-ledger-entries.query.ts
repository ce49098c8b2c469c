import { Query } from '@nestjs/cqrs';
import type { Page, PageRequest } from '../../queries/page.js';
import type { Consistency } from '../../queries/read-query.dto.js';

export type LedgerOrder = 'asc' | 'desc';

/** One money movement of an account and the balance right after it. Optional fields are left out when unset. */
export interface LedgerEntryView {
  position: number;
  type: string;
  amount: number;
  balanceAfter: number;
  projectId?: string;
  reason?: string;
  source?: string;
  reference?: string;
  at: string;
}

/** An account's ledger entries, one page, newest first (`desc`) or oldest first (`asc`). */
export class ListLedgerEntriesQuery extends Query<Page<LedgerEntryView>> {
  constructor(
    readonly accountId: string,
    readonly order: LedgerOrder,
    readonly page: PageRequest,
    readonly consistency: Consistency,
  ) {
    super();
  }
}
