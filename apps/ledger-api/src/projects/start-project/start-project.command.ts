import { Command } from '@nestjs/cqrs';
import type { CommandContext, CommandResponse } from '../../commands/idempotency.js';
import type { StartProjectDto } from './start-project.dto.js';

export class StartProjectCommand extends Command<CommandResponse> {
  constructor(
    readonly context: CommandContext,
    readonly body: StartProjectDto,
  ) {
    super();
  }
}
