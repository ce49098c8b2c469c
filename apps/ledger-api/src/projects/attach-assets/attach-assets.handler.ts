import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { decideAttachAssets, projectStream } from '@ledger/domain';
import { CommandExecutor } from '../../commands/command-executor.js';
import type { CommandResponse } from '../../commands/idempotency.js';
import { projectDecided } from '../project-decided.js';
import { AttachAssetsCommand } from './attach-assets.command.js';

@CommandHandler(AttachAssetsCommand)
export class AttachAssetsHandler implements ICommandHandler<AttachAssetsCommand> {
  constructor(private readonly executor: CommandExecutor) {}

  execute({ context, projectId, body }: AttachAssetsCommand): Promise<CommandResponse> {
    return this.executor.execute(context, {
      serializeOn: projectStream(projectId),
      reads: [projectStream(projectId)],
      decide: async (loads, now) => {
        const decision = decideAttachAssets(await loads.project(projectId), {
          type: 'AttachAssets',
          projectId,
          assets: { ...body },
          now,
        });
        return projectDecided(projectId, decision, 200);
      },
    });
  }
}
