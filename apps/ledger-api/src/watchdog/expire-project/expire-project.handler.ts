import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { decideExpireProject, projectStream } from '@ledger/domain';
import { CommandExecutor } from '../../commands/command-executor.js';
import { projectDecided } from '../../projects/project-decided.js';
import { ExpireProjectCommand, type ExpireProjectResult } from './expire-project.command.js';

/**
 * Fails a project past its deadline or out of attempts, with its refund, in one append
 * fenced by the project stream's revision: a worker finishing at the same instant either
 * lands first (the decision then sees a finished project and appends nothing) or gets 409.
 */
@CommandHandler(ExpireProjectCommand)
export class ExpireProjectHandler implements ICommandHandler<ExpireProjectCommand> {
  constructor(private readonly executor: CommandExecutor) {}

  async execute({ context, projectId, attemptsMax }: ExpireProjectCommand): Promise<ExpireProjectResult> {
    // Set by the decision the executor last ran; a replayed record runs none.
    let expired = false;
    const response = await this.executor.execute(context, {
      serializeOn: projectStream(projectId),
      reads: [projectStream(projectId)],
      decide: async (loads, now) => {
        const decision = decideExpireProject(await loads.project(projectId), {
          type: 'ExpireProject',
          projectId,
          attemptsMax,
          now,
        });
        expired = decision.project.length > 0;
        return projectDecided(projectId, decision, 200);
      },
    });
    return { response, expired };
  }
}
