import { Command } from '@nestjs/cqrs';
import type { CommandContext, CommandResponse } from '../../commands/idempotency.js';
import type { CompleteProjectDto } from './complete-project.dto.js';

export class CompleteProjectCommand extends Command<CommandResponse> {
  constructor(
    readonly context: CommandContext,
    readonly projectId: string,
    readonly body: CompleteProjectDto,
  ) {
    super();
  }
}
