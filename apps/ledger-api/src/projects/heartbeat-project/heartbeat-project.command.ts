import { Command } from '@nestjs/cqrs';
import type { CommandContext, CommandResponse } from '../../commands/idempotency.js';
import type { HeartbeatProjectDto } from './heartbeat-project.dto.js';

export class HeartbeatProjectCommand extends Command<CommandResponse> {
  constructor(
    readonly context: CommandContext,
    readonly projectId: string,
    readonly body: HeartbeatProjectDto,
  ) {
    super();
  }
}
