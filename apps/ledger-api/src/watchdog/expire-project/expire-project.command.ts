import { Command } from '@nestjs/cqrs';
import type { CommandContext, CommandResponse } from '../../commands/idempotency.js';

export interface ExpireProjectResult {
  response: CommandResponse;
  /** This command's own decision failed the project (not a replay, not someone else's end). */
  expired: boolean;
}

/** The watchdog's ExpireProject, run through the executor like any caller's command. */
export class ExpireProjectCommand extends Command<ExpireProjectResult> {
  constructor(
    readonly context: CommandContext,
    readonly projectId: string,
    readonly attemptsMax: number,
  ) {
    super();
  }
}
