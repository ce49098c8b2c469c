import { Body, Controller, Get, Headers, Param, Post, Query, Res } from '@nestjs/common';
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
import { ListLotsQuery } from './list-lots/list-lots.query.js';
import { ListLotsQueryDto } from './list-lots/list-lots.dto.js';
import { GetBalanceAtQuery } from './get-balance-at/get-balance-at.query.js';
import { GetBalanceAtQueryDto } from './get-balance-at/get-balance-at.dto.js';
import { instantOf } from './get-balance-at/instant.js';
import { GetStatementQuery } from './get-statement/get-statement.query.js';
import { GetStatementQueryDto } from './get-statement/get-statement.dto.js';
import { CSV, statementCsv } from './get-statement/statement.csv.js';
import { accepts } from '../queries/accepts.js';

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
    'GrantAnswer',
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
    'VoidAnswer',
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
  @CommandDocs('Charge credits outside any project', 201, [402, 404], 'AccountAnswer')
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
    "An account's balance and totals, and what remains of its lots (a lot past its expiry counts until its expiry is recorded, within the watchdog interval; it is never spent)",
    '`{accountId, balance, paid, promotional, totalGranted, totalDebited, totalRefunded, totalExpired, totalVoided, expiringNext: {at, amount} | null, updatedAt, position}`',
    [404],
    'Account',
  )
  get(@Param('accountId', IdPipe) accountId: string, @Query() query: ReadQueryDto) {
    return this.queries.execute(new GetAccountQuery(accountId, consistencyOf(query)));
  }

  @Get(':accountId/ledger')
  @RequireScope('read')
  @QueryDocs(
    "An account's ledger: every grant, debit, refund, expiry and void with the balances after it, newest first",
    'page of `{position, type, amount, balanceAfter, paidAfter, promotionalAfter, projectId?, reason?, source?, reference?, grantId?, lots?, at}`: `{items, nextCursor}`',
    [404],
    'LedgerEntryPage',
  )
  ledger(@Param('accountId', IdPipe) accountId: string, @Query() query: ListLedgerEntriesQueryDto) {
    return this.queries.execute(
      new ListLedgerEntriesQuery(accountId, query.order ?? 'desc', pageRequestOf(query), consistencyOf(query)),
    );
  }

  @Get(':accountId/lots')
  @RequireScope('read')
  @QueryDocs(
    "An account's lots of one status (default active), in the spending order",
    'page of `{grantId, category, source, reference, priority, granted, remaining, expiresAt, status, grantedAt}`: `{items, nextCursor}`',
    [404],
    'LotPage',
  )
  lots(@Param('accountId', IdPipe) accountId: string, @Query() query: ListLotsQueryDto) {
    return this.queries.execute(
      new ListLotsQuery(accountId, query.status ?? 'active', pageRequestOf(query), consistencyOf(query)),
    );
  }

  @Get(':accountId/balance')
  @RequireScope('read')
  @QueryDocs(
    "An account's balances as of its last ledger entry at or before `at` (all zero before its first)",
    '`{accountId, at, balance, paid, promotional, position}`',
    [404],
    'BalanceAt',
  )
  balanceAt(@Param('accountId', IdPipe) accountId: string, @Query() query: GetBalanceAtQueryDto) {
    return this.queries.execute(new GetBalanceAtQuery(accountId, instantOf(query.at, 'at'), consistencyOf(query)));
  }

  @Get(':accountId/statement')
  @RequireScope('read')
  @QueryDocs(
    "An account's statement from `from` to `to` (both included): closing.balance = opening.balance + granted − debited + refunded − expired − voided",
    `\`{accountId, from, to, opening: {balance, paid, promotional}, closing: {…}, totals: {granted, debited, refunded, expired, voided}, entries}\` (entries oldest first, as in the ledger); with \`Accept: ${CSV}\`, the entries as CSV with a header row`,
    [404],
    'Statement',
  )
  async statement(
    @Param('accountId', IdPipe) accountId: string,
    @Query() query: GetStatementQueryDto,
    @Headers('accept') accept: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const statement = await this.queries.execute(
      new GetStatementQuery(accountId, instantOf(query.from, 'from'), instantOf(query.to, 'to'), consistencyOf(query)),
    );
    if (!accepts(accept, CSV)) return statement;
    void reply.header('content-type', `${CSV}; charset=utf-8`);
    return statementCsv(statement.entries);
  }

  @Get(':accountId/projects')
  @RequireScope('read')
  @QueryDocs("An account's projects, newest first", PROJECT_LIST_DESCRIPTION, [404], 'ProjectPage')
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
