import { Body, Controller, Get, Param, Post, Query, Res } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { RequireScope } from '../auth/scopes.decorator.js';
import { CommandExecutor } from '../commands/command-executor.js';
import type { CommandContext } from '../commands/idempotency.js';
import { created, ok, send } from '../http/answers.js';
import { CommandDocs } from '../http/command-docs.decorator.js';
import { IdPipe } from '../http/id.pipe.js';
import { IdempotentRequest } from '../http/idempotent-request.decorator.js';
import { grantCredits } from './grant-credits/grant-credits.handler.js';
import { GrantCreditsDto } from './grant-credits/grant-credits.dto.js';
import { derivedGrantId } from './grant-credits/grant-id.js';
import { voidGrant } from './void-grant/void-grant.handler.js';
import { VoidGrantDto } from './void-grant/void-grant.dto.js';
import { debitCredits } from './debit-credits/debit-credits.handler.js';
import { DebitCreditsDto } from './debit-credits/debit-credits.dto.js';
import { QueryDocs } from '../queries/query-docs.decorator.js';
import { ReadQueryDto, consistencyOf, pageRequestOf } from '../queries/read-query.dto.js';
import { AccountProjectsQueryDto } from '../projects/list-projects/list-projects.dto.js';
import { ListProjectsQuery } from '../projects/list-projects/list-projects.query.js';
import { PROJECT_LIST_DESCRIPTION } from '../projects/project.view.js';
import { GetAccountQuery } from './get-account/get-account.query.js';
import { ListLedgerEntriesQuery } from './list-ledger-entries/list-ledger-entries.query.js';
import { ListLedgerEntriesQueryDto } from './list-ledger-entries/list-ledger-entries.dto.js';

@ApiTags('accounts')
@Controller('v1/accounts')
export class AccountsController {
  constructor(
    private readonly commands: CommandExecutor,
    private readonly queries: QueryBus,
  ) {}

  @Post(':accountId/grants')
  @RequireScope('grant')
  @CommandDocs(
    'Grant credits as a lot (creates the account on its first grant): `{accountId, grantId, balance, position}`',
    201,
    [409],
  )
  async grant(
    @IdempotentRequest() context: CommandContext,
    @Param('accountId', IdPipe) accountId: string,
    @Body() body: GrantCreditsDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const grantId = body.grantId ?? derivedGrantId(context);
    const result = await this.commands.execute(
      context,
      grantCredits,
      { type: 'GrantCredits', accountId, ...body, grantId },
      created,
    );
    return send(reply, result);
  }

  @Post(':accountId/grants/:grantId/void')
  @RequireScope('grant')
  @CommandDocs(
    'Void what remains of a lot (credits a running project holds come back voided): `{accountId, grantId, voided, balance, position}`',
    200,
    [404, 409],
  )
  async voidGrant(
    @IdempotentRequest() context: CommandContext,
    @Param('accountId', IdPipe) accountId: string,
    @Param('grantId', IdPipe) grantId: string,
    @Body() body: VoidGrantDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const result = await this.commands.execute(
      context,
      voidGrant,
      { type: 'VoidGrant', accountId, grantId, reason: body.reason },
      ok,
    );
    return send(reply, result);
  }

  @Post(':accountId/debits')
  @RequireScope('debit')
  @CommandDocs('Charge credits outside any project', 201, [402, 404])
  async debit(
    @IdempotentRequest() context: CommandContext,
    @Param('accountId', IdPipe) accountId: string,
    @Body() body: DebitCreditsDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const result = await this.commands.execute(
      context,
      debitCredits,
      { type: 'DebitCredits', accountId, ...body },
      created,
    );
    return send(reply, result);
  }

  @Get(':accountId')
  @RequireScope('read')
  @QueryDocs(
    "An account's balance and totals",
    '`{accountId, balance, totalGranted, totalDebited, totalRefunded, updatedAt, position}`',
    [404],
  )
  get(@Param('accountId', IdPipe) accountId: string, @Query() query: ReadQueryDto) {
    return this.queries.execute(new GetAccountQuery(accountId, consistencyOf(query)));
  }

  @Get(':accountId/ledger')
  @RequireScope('read')
  @QueryDocs(
    "An account's ledger: every grant, debit and refund with the balance after it, newest first",
    'page of `{position, type, amount, balanceAfter, projectId?, reason?, source?, reference?, at}`: `{items, nextCursor}`',
    [404],
  )
  ledger(@Param('accountId', IdPipe) accountId: string, @Query() query: ListLedgerEntriesQueryDto) {
    return this.queries.execute(
      new ListLedgerEntriesQuery(accountId, query.order ?? 'desc', pageRequestOf(query), consistencyOf(query)),
    );
  }

  @Get(':accountId/projects')
  @RequireScope('read')
  @QueryDocs("An account's projects, newest first", PROJECT_LIST_DESCRIPTION, [404])
  projects(@Param('accountId', IdPipe) accountId: string, @Query() query: AccountProjectsQueryDto) {
    return this.queries.execute(
      new ListProjectsQuery(
        { accountId, status: query.status, accountMustExist: true },
        pageRequestOf(query),
        consistencyOf(query),
      ),
    );
  }
}
