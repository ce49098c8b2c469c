import { Query } from '@nestjs/cqrs';
import type { AccountBalanceRow } from '@ledger/projections';
import type { Consistency } from '../../queries/read-query.dto.js';

export class GetAccountQuery extends Query<AccountBalanceRow> {
  constructor(
    readonly accountId: string,
    readonly consistency: Consistency,
  ) {
    super();
  }
}
