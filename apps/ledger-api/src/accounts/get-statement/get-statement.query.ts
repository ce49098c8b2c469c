import { Query } from '@nestjs/cqrs';
import type { LedgerEntryRow } from '@ledger/projections';
import type { Consistency } from '../../queries/read-query.dto.js';

export interface Balances {
  balance: number;
  paid: number;
  promotional: number;
}

/** The sums of a period's entries by type. */
export interface StatementTotals {
  granted: number;
  debited: number;
  refunded: number;
  expired: number;
  voided: number;
}

/** What `GET /v1/accounts/{accountId}/statement` answers. */
export interface StatementView {
  accountId: string;
  from: string;
  to: string;
  opening: Balances;
  closing: Balances;
  totals: StatementTotals;
  /** Oldest first. */
  entries: LedgerEntryRow[];
}

/** An account's statement from `from` to `to`, both included: balances before and after, totals, and every entry. */
export class GetStatementQuery extends Query<StatementView> {
  constructor(
    readonly accountId: string,
    readonly from: Date,
    readonly to: Date,
    readonly consistency: Consistency,
  ) {
    super();
  }
}
