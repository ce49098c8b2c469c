import { Command } from '@nestjs/cqrs';
import type { CommandContext, CommandResponse } from '../../commands/idempotency.js';
import type { AttachAssetsDto } from './attach-assets.dto.js';

export class AttachAssetsCommand extends Command<CommandResponse> {
  constructor(
    readonly context: CommandContext,
    readonly projectId: string,
    readonly body: AttachAssetsDto,
  ) {
    super();
  }
}
