import { decideExpireProject } from '@ledger/domain';
import { onProjectAndPayer } from '../../commands/command-handler.js';

/**
 * Fails a project past its deadline or out of attempts, with its refund to its lots, in one
 * append fenced by the project's and the payer's revisions: a worker finishing at the same instant either
 * lands first (the decision then sees a finished project and appends nothing) or gets 409.
 */
export const expireProject = onProjectAndPayer(decideExpireProject);
