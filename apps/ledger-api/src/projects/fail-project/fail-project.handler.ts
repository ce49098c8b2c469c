import { decideFailProject } from '@ledger/domain';
import { onProjectAndPayer } from '../../commands/command-handler.js';

/** A worker fails its attempt, or the owner cancels; what was not refunded goes back, once. */
export const failProject = onProjectAndPayer(decideFailProject);
