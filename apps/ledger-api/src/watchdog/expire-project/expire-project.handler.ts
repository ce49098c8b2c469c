import { decideExpireProject } from '@ledger/domain';
import { onProject } from '../../commands/command-handler.js';

/**
 * Fails a project past its deadline or out of attempts, with its refund, in one append
 * fenced by the project stream's revision: a worker finishing at the same instant either
 * lands first (the decision then sees a finished project and appends nothing) or gets 409.
 */
export const expireProject = onProject(decideExpireProject);
