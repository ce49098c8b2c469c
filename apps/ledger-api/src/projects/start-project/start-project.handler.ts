import { decideStartProject, type StartProject, type StartReply } from '@ledger/domain';
import type { CommandHandler, Untimed } from '../../commands/command-handler.js';

/**
 * Debit and start in one atomic append: decided on the payer's account (whose balance it
 * spends, so the executor serialises on it) and the project (a repeated start is recognised).
 */
export const startProject: CommandHandler<Untimed<StartProject>, 'account' | 'project', StartReply> = {
  streams: (command) => ({ account: command.accountId, project: command.projectId }),
  decide: ({ account, project }, command, now) => decideStartProject(account, project, { ...command, now }),
};
