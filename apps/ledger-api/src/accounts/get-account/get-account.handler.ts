import assert from 'node:assert';
import { QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import { accountBalancesTable, lotsTable } from '@ledger/projections';
import { notFound, ReadModel } from '../../queries/read-model.js';
import { GetAccountQuery, type AccountView } from './get-account.query.js';

/**
 * An account's balance, its totals and its lots' sums, from one snapshot. The read
 * models hold recorded facts: a lot past its `expiresAt` is no longer spendable (the
 * decider never draws from it) but counts here until the watchdog records its
 * `CreditsExpired`, within its interval; `expiringNext` shows it coming.
 */
@QueryHandler(GetAccountQuery)
export class GetAccountHandler implements IQueryHandler<GetAccountQuery> {
  constructor(private readonly readModel: ReadModel) {}

  async execute({ accountId, consistency }: GetAccountQuery): Promise<AccountView> {
    const found = await this.readModel.snapshot(consistency, async (db) => {
      const account = await accountBalancesTable.byId(db, accountId);
      return account && { account, lots: await lotsTable.summary(db, accountId) };
    });
    if (!found) throw notFound('account', accountId);
    const { account, lots } = found;
    // I1 as the read model holds it: what came in minus what went out.
    assert(
      account.balance ===
        account.totalGranted -
          account.totalDebited +
          account.totalRefunded -
          account.totalExpired -
          account.totalVoided,
      `account ${accountId}: balance ${account.balance} does not follow from its totals`,
    );
    const { accountId: id, balance, ...rest } = account;
    return {
      accountId: id,
      balance,
      paid: lots.paid,
      promotional: lots.promotional,
      ...rest,
      expiringNext: lots.expiringNext,
    };
  }
}
