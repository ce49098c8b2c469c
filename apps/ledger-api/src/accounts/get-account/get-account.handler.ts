import assert from 'node:assert';
import { QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import { accountBalancesTable, type AccountBalanceRow } from '@ledger/projections';
import { ReadModel } from '../../queries/read-model.js';
import { GetAccountQuery } from './get-account.query.js';

@QueryHandler(GetAccountQuery)
export class GetAccountHandler implements IQueryHandler<GetAccountQuery> {
  constructor(private readonly readModel: ReadModel) {}

  async execute({ accountId, consistency }: GetAccountQuery): Promise<AccountBalanceRow> {
    const account = await this.readModel.found(consistency, 'account', accountId, (db) =>
      accountBalancesTable.byId(db, accountId),
    );
    // I1 as the read model holds it: what came in minus what went out.
    assert(
      account.balance === account.totalGranted - account.totalDebited + account.totalRefunded,
      `account ${accountId}: balance ${account.balance} does not follow from its totals`,
    );
    return account;
  }
}
