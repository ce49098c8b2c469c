import { Inject } from '@nestjs/common';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { accountStream, decideStartProject, projectStream } from '@ledger/domain';
import { CommandExecutor } from '../../commands/command-executor.js';
import type { LedgerConfig } from '../../config/ledger-config.js';
import { LEDGER_CONFIG } from '../../infrastructure/tokens.js';
import type { CommandResponse } from '../../commands/idempotency.js';
import { projectDecided } from '../project-decided.js';
import { StartProjectCommand } from './start-project.command.js';

/** Debit and start in one atomic append; serialised on the account, whose balance it spends. */
@CommandHandler(StartProjectCommand)
export class StartProjectHandler implements ICommandHandler<StartProjectCommand> {
  constructor(
    private readonly executor: CommandExecutor,
    @Inject(LEDGER_CONFIG) private readonly config: LedgerConfig,
  ) {}

  execute({ context, body }: StartProjectCommand): Promise<CommandResponse> {
    return this.executor.execute(context, {
      serializeOn: accountStream(body.accountId),
      reads: [accountStream(body.accountId), projectStream(body.projectId)],
      decide: async (loads, now) => {
        const [account, project] = [await loads.account(body.accountId), await loads.project(body.projectId)];
        const decision = decideStartProject(account, project, {
          type: 'StartProject',
          ...body,
          deadlineSecondsDefault: this.config.deadlineSecondsDefault,
          now,
        });
        return projectDecided(body.projectId, decision, 201);
      },
    });
  }
}
