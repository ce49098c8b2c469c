import { decideClaimProject } from '@ledger/domain';
import { onProject } from '../../commands/command-handler.js';

/** A worker claims the project: a new attempt (its fencing token) and a lease. */
export const claimProject = onProject(decideClaimProject);
