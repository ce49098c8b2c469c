import { Command } from '@nestjs/cqrs';
import type { CommandContext, CommandResponse } from '../../commands/idempotency.js';
import type { FailProjectDto } from './fail-project.dto.js';

export class FailProjectCommand extends Command<CommandResponse> {
  constructor(
    readonly context: CommandContext,
    readonly projectId: string,
    readonly body: FailProjectDto,
  ) {
    super();
  }
}
