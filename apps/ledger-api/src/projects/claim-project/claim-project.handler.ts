import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { decideClaimProject, projectStream } from '@ledger/domain';
import { CommandExecutor } from '../../commands/command-executor.js';
import type { CommandResponse } from '../../commands/idempotency.js';
import { projectDecided } from '../project-decided.js';
import { ClaimProjectCommand } from './claim-project.command.js';

@CommandHandler(ClaimProjectCommand)
export class ClaimProjectHandler implements ICommandHandler<ClaimProjectCommand> {
  constructor(private readonly executor: CommandExecutor) {}

  execute({ context, projectId, body }: ClaimProjectCommand): Promise<CommandResponse> {
    return this.executor.execute(context, {
      serializeOn: projectStream(projectId),
      reads: [projectStream(projectId)],
      decide: async (loads, now) => {
        const decision = decideClaimProject(await loads.project(projectId), {
          type: 'ClaimProject',
          projectId,
          ...body,
          now,
        });
        return projectDecided(projectId, decision, 200);
      },
    });
  }
}
