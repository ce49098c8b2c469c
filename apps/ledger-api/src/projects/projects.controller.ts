import { Body, Controller, Get, Param, Post, Query, Res } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { RequireScope } from '../auth/scopes.decorator.js';
import type { CommandContext } from '../commands/idempotency.js';
import { Command } from '../http/command-context.decorator.js';
import { CommandDocs } from '../http/command-docs.decorator.js';
import { IdPipe } from '../http/id.pipe.js';
import { send } from '../http/send.js';
import { StartProjectCommand } from './start-project/start-project.command.js';
import { StartProjectDto } from './start-project/start-project.dto.js';
import { ClaimProjectCommand } from './claim-project/claim-project.command.js';
import { ClaimProjectDto } from './claim-project/claim-project.dto.js';
import { HeartbeatProjectCommand } from './heartbeat-project/heartbeat-project.command.js';
import { HeartbeatProjectDto } from './heartbeat-project/heartbeat-project.dto.js';
import { CompleteProjectCommand } from './complete-project/complete-project.command.js';
import { CompleteProjectDto } from './complete-project/complete-project.dto.js';
import { FailProjectCommand } from './fail-project/fail-project.command.js';
import { FailProjectDto } from './fail-project/fail-project.dto.js';
import { AttachAssetsCommand } from './attach-assets/attach-assets.command.js';
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
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Post()
  @RequireScope('commands')
  @CommandDocs('Start a project: debit its cost and queue it, in one atomic step', 201, [402, 404, 409])
  async start(
    @Command() context: CommandContext,
    @Body() body: StartProjectDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return send(reply, await this.commands.execute(new StartProjectCommand(context, body)));
  }

  @Post(':projectId/claim')
  @RequireScope('commands')
  @CommandDocs('A worker claims the project: a new attempt (fencing token) and a lease', 200, [404, 409])
  async claim(
    @Command() context: CommandContext,
    @Param('projectId', IdPipe) projectId: string,
    @Body() body: ClaimProjectDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return send(reply, await this.commands.execute(new ClaimProjectCommand(context, projectId, body)));
  }

  @Post(':projectId/heartbeat')
  @RequireScope('commands')
  @CommandDocs("Extend the current attempt's lease", 200, [404, 409])
  async heartbeat(
    @Command() context: CommandContext,
    @Param('projectId', IdPipe) projectId: string,
    @Body() body: HeartbeatProjectDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return send(reply, await this.commands.execute(new HeartbeatProjectCommand(context, projectId, body)));
  }

  @Post(':projectId/complete')
  @RequireScope('commands')
  @CommandDocs('Complete with the result assets; unused credits are refunded in the same step', 200, [404, 409])
  async complete(
    @Command() context: CommandContext,
    @Param('projectId', IdPipe) projectId: string,
    @Body() body: CompleteProjectDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return send(reply, await this.commands.execute(new CompleteProjectCommand(context, projectId, body)));
  }

  @Post(':projectId/fail')
  @RequireScope('commands')
  @CommandDocs('Fail (with attempt) or cancel (without): refunds what was not refunded, once', 200, [404, 409])
  async fail(
    @Command() context: CommandContext,
    @Param('projectId', IdPipe) projectId: string,
    @Body() body: FailProjectDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return send(reply, await this.commands.execute(new FailProjectCommand(context, projectId, body)));
  }

  @Post(':projectId/assets')
  @RequireScope('commands')
  @CommandDocs(
    'Attach result assets to a completed project (keys given replace its own, the rest stay): `{projectId, status, assets}`',
    200,
    [404, 409],
  )
  async attachAssets(
    @Command() context: CommandContext,
    @Param('projectId', IdPipe) projectId: string,
    @Body() body: AttachAssetsDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return send(reply, await this.commands.execute(new AttachAssetsCommand(context, projectId, body)));
  }

  @Get()
  @RequireScope('read')
  @QueryDocs('Projects newest first, by status, account, or missing their result asset', PROJECT_LIST_DESCRIPTION)
  list(@Query() query: ListProjectsQueryDto) {
    return this.queries.execute(
      new ListProjectsQuery(projectFilterOf(query), pageRequestOf(query), consistencyOf(query)),
    );
  }

  @Get(':projectId')
  @RequireScope('read')
  @QueryDocs("A project's status, attempt, lease, refund and result assets", PROJECT_DESCRIPTION, [404])
  get(@Param('projectId', IdPipe) projectId: string, @Query() query: ReadQueryDto) {
    return this.queries.execute(new GetProjectQuery(projectId, consistencyOf(query)));
  }
}
