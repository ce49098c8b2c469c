import { decideCompleteProject } from '@ledger/domain';
import { onProjectAndPayer } from '../../commands/command-handler.js';

/** The current attempt delivers its result; unused credits go back to the payer in the same append. */
export const completeProject = onProjectAndPayer(decideCompleteProject);
