import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { decideCompleteProject, projectStream } from '@ledger/domain';
import { CommandExecutor } from '../../commands/command-executor.js';
import type { CommandResponse } from '../../commands/idempotency.js';
import { projectDecided } from '../project-decided.js';
import { CompleteProjectCommand } from './complete-project.command.js';

@CommandHandler(CompleteProjectCommand)
export class CompleteProjectHandler implements ICommandHandler<CompleteProjectCommand> {
  constructor(private readonly executor: CommandExecutor) {}

  execute({ context, projectId, body }: CompleteProjectCommand): Promise<CommandResponse> {
    return this.executor.execute(context, {
      serializeOn: projectStream(projectId),
      reads: [projectStream(projectId)],
      decide: async (loads, now) => {
        const decision = decideCompleteProject(await loads.project(projectId), {
          type: 'CompleteProject',
          projectId,
          ...body,
          now,
        });
        return projectDecided(projectId, decision, 200);
      },
    });
  }
}
