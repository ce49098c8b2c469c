import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { accountStream, decideGrantCredits } from '@ledger/domain';
import { CommandExecutor } from '../../commands/command-executor.js';
import type { CommandResponse } from '../../commands/idempotency.js';
import { GrantCreditsCommand } from './grant-credits.command.js';

@CommandHandler(GrantCreditsCommand)
export class GrantCreditsHandler implements ICommandHandler<GrantCreditsCommand> {
  constructor(private readonly executor: CommandExecutor) {}

  execute({ context, accountId, body }: GrantCreditsCommand): Promise<CommandResponse> {
    return this.executor.execute(context, {
      serializeOn: accountStream(accountId),
      reads: [accountStream(accountId)],
      decide: async (loads) => {
        const decision = decideGrantCredits(await loads.account(accountId), {
          type: 'GrantCredits',
          accountId,
          ...body,
        });
        return { accountId, account: decision.account, outcome: { status: 201, body: decision.reply } };
      },
    });
  }
}
