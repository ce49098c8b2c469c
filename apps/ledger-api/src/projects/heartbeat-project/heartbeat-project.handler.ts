import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { decideHeartbeatProject, projectStream } from '@ledger/domain';
import { CommandExecutor } from '../../commands/command-executor.js';
import type { CommandResponse } from '../../commands/idempotency.js';
import { projectDecided } from '../project-decided.js';
import { HeartbeatProjectCommand } from './heartbeat-project.command.js';

@CommandHandler(HeartbeatProjectCommand)
export class HeartbeatProjectHandler implements ICommandHandler<HeartbeatProjectCommand> {
  constructor(private readonly executor: CommandExecutor) {}

  execute({ context, projectId, body }: HeartbeatProjectCommand): Promise<CommandResponse> {
    return this.executor.execute(context, {
      serializeOn: projectStream(projectId),
      reads: [projectStream(projectId)],
      decide: async (loads, now) => {
        const decision = decideHeartbeatProject(await loads.project(projectId), {
          type: 'HeartbeatProject',
          projectId,
          ...body,
          now,
        });
        return projectDecided(projectId, decision, 200);
      },
    });
  }
}
