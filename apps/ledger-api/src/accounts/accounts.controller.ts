import { Body, Controller, Get, Param, Post, Res } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { RequireScope } from '../auth/scopes.decorator.js';
import type { CommandContext } from '../commands/idempotency.js';
import { Command } from '../http/command-context.decorator.js';
import { CommandDocs } from '../http/command-docs.decorator.js';
import { IdPipe } from '../http/id.pipe.js';
import { send } from '../http/send.js';
import { GrantCreditsCommand } from './grant-credits/grant-credits.command.js';
import { GrantCreditsDto } from './grant-credits/grant-credits.dto.js';
import { DebitCreditsCommand } from './debit-credits/debit-credits.command.js';
import { DebitCreditsDto } from './debit-credits/debit-credits.dto.js';
import { AccountQueries } from './account.queries.js';

@ApiTags('accounts')
@Controller('v1/accounts')
export class AccountsController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: AccountQueries,
  ) {}

  @Post(':accountId/grants')
  @RequireScope('commands')
  @CommandDocs('Grant credits (creates the account on its first grant)', 201, [])
  async grant(
    @Command() context: CommandContext,
    @Param('accountId', IdPipe) accountId: string,
    @Body() body: GrantCreditsDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return send(reply, await this.commands.execute(new GrantCreditsCommand(context, accountId, body)));
  }

  @Post(':accountId/debits')
  @RequireScope('commands')
  @CommandDocs('Charge credits outside any project', 201, [402, 404])
  async debit(
    @Command() context: CommandContext,
    @Param('accountId', IdPipe) accountId: string,
    @Body() body: DebitCreditsDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return send(reply, await this.commands.execute(new DebitCreditsCommand(context, accountId, body)));
  }

  @Get(':accountId')
  @RequireScope('read')
  @ApiBearerAuth()
  @ApiOperation({ summary: "An account's balance and totals" })
  get(@Param('accountId', IdPipe) accountId: string) {
    return this.queries.account(accountId);
  }
}
