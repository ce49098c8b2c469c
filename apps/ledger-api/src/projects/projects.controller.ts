import { Body, Controller, Get, Inject, Param, Post, Query, Res } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CANCEL_OR_FAIL, RequireScope } from '../auth/scopes.decorator.js';
import { CommandExecutor } from '../commands/command-executor.js';
import type { CommandContext } from '../commands/idempotency.js';
import type { LedgerConfig } from '../config/ledger-config.js';
import { LEDGER_CONFIG } from '../infrastructure/tokens.js';
import { created, ok, send } from '../http/answers.js';
import { CommandDocs } from '../http/command-docs.decorator.js';
import { IdPipe } from '../http/id.pipe.js';
import { IdempotentRequest } from '../http/idempotent-request.decorator.js';
import { startProject } from './start-project/start-project.handler.js';
import { StartProjectDto } from './start-project/start-project.dto.js';
import { claimProject } from './claim-project/claim-project.handler.js';
import { ClaimProjectDto } from './claim-project/claim-project.dto.js';
import { heartbeatProject } from './heartbeat-project/heartbeat-project.handler.js';
import { HeartbeatProjectDto } from './heartbeat-project/heartbeat-project.dto.js';
import { completeProject } from './complete-project/complete-project.handler.js';
import { CompleteProjectDto } from './complete-project/complete-project.dto.js';
import { failProject } from './fail-project/fail-project.handler.js';
import { FailProjectDto } from './fail-project/fail-project.dto.js';
import { attachAssets } from './attach-assets/attach-assets.handler.js';
import { AttachAssetsDto } from './attach-assets/attach-assets.dto.js';
import { QueryDocs } from '../queries/query-docs.decorator.js';
import { ReadQueryDto, consistencyOf, pageRequestOf } from '../queries/read-query.dto.js';
import { GetProjectQuery } from './get-project/get-project.query.js';
import { ListProjectsQuery } from './list-projects/list-projects.query.js';
import { ListProjectsQueryDto, projectFilterOf } from './list-projects/list-projects.dto.js';
import { PROJECT_DESCRIPTION, PROJECT_LIST_DESCRIPTION } from './project.view.js';

@ApiTags('projects')
@Controller('v1/projects')
export class ProjectsController {
  constructor(
    private readonly commands: CommandExecutor,
    private readonly queries: QueryBus,
    @Inject(LEDGER_CONFIG) private readonly config: LedgerConfig,
  ) {}

  @Post()
  @RequireScope('start')
  @CommandDocs('Start a project: debit its cost and queue it, in one atomic step', 201, [402, 404, 409], 'StartAnswer')
  async start(
    @IdempotentRequest() context: CommandContext,
    @Body() body: StartProjectDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const result = await this.commands.execute(
      context,
      startProject,
      { type: 'StartProject', ...body, deadlineSecondsDefault: this.config.deadlineSecondsDefault },
      created,
    );
    return send(reply, result);
  }

  @Post(':projectId/claim')
  @RequireScope('work')
  @CommandDocs('A worker claims the project: a new attempt (fencing token) and a lease', 200, [404, 409], 'ClaimAnswer')
  async claim(
    @IdempotentRequest() context: CommandContext,
    @Param('projectId', IdPipe) projectId: string,
    @Body() body: ClaimProjectDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const result = await this.commands.execute(context, claimProject, { type: 'ClaimProject', projectId, ...body }, ok);
    return send(reply, result);
  }

  @Post(':projectId/heartbeat')
  @RequireScope('work')
  @CommandDocs("Extend the current attempt's lease", 200, [404, 409], 'HeartbeatAnswer')
  async heartbeat(
    @IdempotentRequest() context: CommandContext,
    @Param('projectId', IdPipe) projectId: string,
    @Body() body: HeartbeatProjectDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const result = await this.commands.execute(
      context,
      heartbeatProject,
      { type: 'HeartbeatProject', projectId, ...body },
      ok,
    );
    return send(reply, result);
  }

  @Post(':projectId/complete')
  @RequireScope('work')
  @CommandDocs(
    'Complete with the result assets; unused credits are refunded in the same step',
    200,
    [404, 409],
    'FinishAnswer',
  )
  async complete(
    @IdempotentRequest() context: CommandContext,
    @Param('projectId', IdPipe) projectId: string,
    @Body() body: CompleteProjectDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const result = await this.commands.execute(
      context,
      completeProject,
      { type: 'CompleteProject', projectId, ...body },
      ok,
    );
    return send(reply, result);
  }

  @Post(':projectId/fail')
  @RequireScope(CANCEL_OR_FAIL)
  @CommandDocs(
    'Fail (with attempt) or cancel (without): refunds what was not refunded, once',
    200,
    [404, 409],
    'FinishAnswer',
  )
  async fail(
    @IdempotentRequest() context: CommandContext,
    @Param('projectId', IdPipe) projectId: string,
    @Body() body: FailProjectDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const result = await this.commands.execute(context, failProject, { type: 'FailProject', projectId, ...body }, ok);
    return send(reply, result);
  }

  @Post(':projectId/assets')
  @RequireScope('work')
  @CommandDocs(
    'Attach result assets to a completed project (keys given replace its own, the rest stay): `{projectId, status, assets}`',
    200,
    [404, 409],
    'AssetsAnswer',
  )
  async attachAssets(
    @IdempotentRequest() context: CommandContext,
    @Param('projectId', IdPipe) projectId: string,
    @Body() body: AttachAssetsDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const result = await this.commands.execute(
      context,
      attachAssets,
      { type: 'AttachAssets', projectId, assets: { ...body } },
      ok,
    );
    return send(reply, result);
  }

  @Get()
  @RequireScope('read')
  @QueryDocs(
    'Projects newest first, by status, account, or missing their result asset',
    PROJECT_LIST_DESCRIPTION,
    [],
    'ProjectPage',
  )
  list(@Query() query: ListProjectsQueryDto) {
    return this.queries.execute(
      new ListProjectsQuery(projectFilterOf(query), pageRequestOf(query), consistencyOf(query)),
    );
  }

  @Get(':projectId')
  @RequireScope('read')
  @QueryDocs("A project's status, attempt, lease, refund and result assets", PROJECT_DESCRIPTION, [404], 'Project')
  get(@Param('projectId', IdPipe) projectId: string, @Query() query: ReadQueryDto) {
    return this.queries.execute(new GetProjectQuery(projectId, consistencyOf(query)));
  }
}
