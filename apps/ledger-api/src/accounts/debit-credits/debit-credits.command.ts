import { Command } from '@nestjs/cqrs';
import type { CommandContext, CommandResponse } from '../../commands/idempotency.js';
import type { DebitCreditsDto } from './debit-credits.dto.js';

export class DebitCreditsCommand extends Command<CommandResponse> {
  constructor(
    readonly context: CommandContext,
    readonly accountId: string,
    readonly body: DebitCreditsDto,
  ) {
    super();
  }
}
