import { Module } from '@nestjs/common';
import { AccountsController } from './accounts.controller.js';
import { AccountQueries } from './account.queries.js';
import { GrantCreditsHandler } from './grant-credits/grant-credits.handler.js';
import { DebitCreditsHandler } from './debit-credits/debit-credits.handler.js';

@Module({
  controllers: [AccountsController],
  providers: [AccountQueries, GrantCreditsHandler, DebitCreditsHandler],
})
export class AccountsModule {}
