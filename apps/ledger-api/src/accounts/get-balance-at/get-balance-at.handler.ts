import { QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import { ledgerEntriesTable } from '@ledger/projections';
import { ReadModel } from '../../queries/read-model.js';
import { GetBalanceAtQuery, type BalanceAtView } from './get-balance-at.query.js';

/** Nothing before an account's first entry. */
export const NO_BALANCES = { balance: 0, paid: 0, promotional: 0, position: 0 } as const;

@QueryHandler(GetBalanceAtQuery)
export class GetBalanceAtHandler implements IQueryHandler<GetBalanceAtQuery> {
  constructor(private readonly readModel: ReadModel) {}

  async execute({ accountId, at, consistency }: GetBalanceAtQuery): Promise<BalanceAtView> {
    const balances = await this.readModel.read(consistency, (db) => ledgerEntriesTable.balancesAt(db, accountId, at));
    if (!balances) await this.readModel.assertAccountExists(accountId);
    return { accountId, at: at.toISOString(), ...(balances ?? NO_BALANCES) };
  }
}
