import { Query } from '@nestjs/cqrs';
import type { AccountBalanceRow, LotsSummary } from '@ledger/projections';
import type { Consistency } from '../../queries/read-query.dto.js';

/** What `GET /v1/accounts/{accountId}` answers: the balance row and what its lots add. */
export type AccountView = AccountBalanceRow & LotsSummary;

export class GetAccountQuery extends Query<AccountView> {
  constructor(
    readonly accountId: string,
    readonly consistency: Consistency,
  ) {
    super();
  }
}
