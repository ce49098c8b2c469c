import { Command } from '@nestjs/cqrs';
import type { CommandContext, CommandResponse } from '../../commands/idempotency.js';
import type { GrantCreditsDto } from './grant-credits.dto.js';

export class GrantCreditsCommand extends Command<CommandResponse> {
  constructor(
    readonly context: CommandContext,
    readonly accountId: string,
    readonly body: GrantCreditsDto,
  ) {
    super();
  }
}
