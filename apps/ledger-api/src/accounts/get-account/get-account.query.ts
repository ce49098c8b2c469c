import { Query } from '@nestjs/cqrs';
import type { Consistency } from '../../queries/read-query.dto.js';

export interface AccountView {
  accountId: string;
  balance: number;
  totalGranted: number;
  totalDebited: number;
  totalRefunded: number;
  updatedAt: string;
  /** Position of the last event that changed the balance. */
  position: number;
}

export class GetAccountQuery extends Query<AccountView> {
  constructor(
    readonly accountId: string,
    readonly consistency: Consistency,
  ) {
    super();
  }
}
