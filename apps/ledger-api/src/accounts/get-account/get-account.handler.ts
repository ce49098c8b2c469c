import assert from 'node:assert';
import { QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import { ApiError } from '../../errors/api-error.js';
import { integerOf, isoOf } from '../../queries/page.js';
import { READ_TABLES, ReadModel } from '../../queries/read-model.js';
import { GetAccountQuery, type AccountView } from './get-account.query.js';

interface AccountRow {
  balance: string;
  total_granted: string;
  total_debited: string;
  total_refunded: string;
  updated_at: Date;
  position: string;
}

@QueryHandler(GetAccountQuery)
export class GetAccountHandler implements IQueryHandler<GetAccountQuery> {
  constructor(private readonly readModel: ReadModel) {}

  async execute({ accountId, consistency }: GetAccountQuery): Promise<AccountView> {
    const [row] = await this.readModel.read<AccountRow>(
      consistency,
      `SELECT balance, total_granted, total_debited, total_refunded, updated_at, position
       FROM ${READ_TABLES.accountBalances} WHERE account_id = $1`,
      [accountId],
    );
    if (!row) throw new ApiError(404, 'not_found', `account ${accountId} does not exist`, { accountId });
    const account = {
      accountId,
      balance: integerOf(row.balance),
      totalGranted: integerOf(row.total_granted),
      totalDebited: integerOf(row.total_debited),
      totalRefunded: integerOf(row.total_refunded),
      updatedAt: isoOf(row.updated_at),
      position: integerOf(row.position),
    };
    // I1 as the read model holds it: what came in minus what went out.
    assert(
      account.balance === account.totalGranted - account.totalDebited + account.totalRefunded,
      `account ${accountId}: balance ${account.balance} does not follow from its totals`,
    );
    return account;
  }
}
