import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { accountStream, decideDebitCredits } from '@ledger/domain';
import { CommandExecutor } from '../../commands/command-executor.js';
import type { CommandResponse } from '../../commands/idempotency.js';
import { DebitCreditsCommand } from './debit-credits.command.js';

@CommandHandler(DebitCreditsCommand)
export class DebitCreditsHandler implements ICommandHandler<DebitCreditsCommand> {
  constructor(private readonly executor: CommandExecutor) {}

  execute({ context, accountId, body }: DebitCreditsCommand): Promise<CommandResponse> {
    return this.executor.execute(context, {
      serializeOn: accountStream(accountId),
      reads: [accountStream(accountId)],
      decide: async (loads) => {
        const decision = decideDebitCredits(await loads.account(accountId), {
          type: 'DebitCredits',
          accountId,
          ...body,
        });
        return { accountId, account: decision.account, outcome: { status: 201, body: decision.reply } };
      },
    });
  }
}
