import { Module } from '@nestjs/common';
import { ReadModel } from '../queries/read-model.js';
import { AccountsController } from './accounts.controller.js';
import { GetAccountHandler } from './get-account/get-account.handler.js';
import { ListLedgerEntriesHandler } from './list-ledger-entries/list-ledger-entries.handler.js';
import { ListLotsHandler } from './list-lots/list-lots.handler.js';
import { GetBalanceAtHandler } from './get-balance-at/get-balance-at.handler.js';
import { GetStatementHandler } from './get-statement/get-statement.handler.js';

// `GET /v1/accounts/{id}/projects` runs the projects module's ListProjectsQuery through the query bus.
@Module({
  controllers: [AccountsController],
  providers: [
    ReadModel,
    GetAccountHandler,
    ListLedgerEntriesHandler,
    ListLotsHandler,
    GetBalanceAtHandler,
    GetStatementHandler,
  ],
})
export class AccountsModule {}
