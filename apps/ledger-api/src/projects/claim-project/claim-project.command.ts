import { Command } from '@nestjs/cqrs';
import type { CommandContext, CommandResponse } from '../../commands/idempotency.js';
import type { ClaimProjectDto } from './claim-project.dto.js';

export class ClaimProjectCommand extends Command<CommandResponse> {
  constructor(
    readonly context: CommandContext,
    readonly projectId: string,
    readonly body: ClaimProjectDto,
  ) {
    super();
  }
}
