import { Query } from '@nestjs/cqrs';
import type { Consistency } from '../../queries/read-query.dto.js';

/** What `GET /v1/accounts/{accountId}/balance?at=` answers. */
export interface BalanceAtView {
  accountId: string;
  at: string;
  balance: number;
  paid: number;
  promotional: number;
  /** Of the last entry at or before `at`; 0 before the first. */
  position: number;
}

/** An account's balances as of its last ledger entry at or before `at` (all zero before its first). */
export class GetBalanceAtQuery extends Query<BalanceAtView> {
  constructor(
    readonly accountId: string,
    readonly at: Date,
    readonly consistency: Consistency,
  ) {
    super();
  }
}
