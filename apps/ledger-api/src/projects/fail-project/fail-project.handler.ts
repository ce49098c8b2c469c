import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { decideFailProject, projectStream } from '@ledger/domain';
import { CommandExecutor } from '../../commands/command-executor.js';
import type { CommandResponse } from '../../commands/idempotency.js';
import { projectDecided } from '../project-decided.js';
import { FailProjectCommand } from './fail-project.command.js';

@CommandHandler(FailProjectCommand)
export class FailProjectHandler implements ICommandHandler<FailProjectCommand> {
  constructor(private readonly executor: CommandExecutor) {}

  execute({ context, projectId, body }: FailProjectCommand): Promise<CommandResponse> {
    return this.executor.execute(context, {
      serializeOn: projectStream(projectId),
      reads: [projectStream(projectId)],
      decide: async (loads, now) => {
        const decision = decideFailProject(await loads.project(projectId), {
          type: 'FailProject',
          projectId,
          ...body,
          now,
        });
        return projectDecided(projectId, decision, 200);
      },
    });
  }
}
