import { Module } from '@nestjs/common';
import { ReadModel } from '../queries/read-model.js';
import { AccountsController } from './accounts.controller.js';
import { GetAccountHandler } from './get-account/get-account.handler.js';
import { ListLedgerEntriesHandler } from './list-ledger-entries/list-ledger-entries.handler.js';

// `GET /v1/accounts/{id}/projects` runs the projects module's ListProjectsQuery through the query bus.
@Module({
  controllers: [AccountsController],
  providers: [ReadModel, GetAccountHandler, ListLedgerEntriesHandler],
})
export class AccountsModule {}
