import { decideGrantCredits } from '@ledger/domain';
import { onAccount } from '../../commands/command-handler.js';

/** Grant credits: decided on the account alone, which its first grant creates. */
export const grantCredits = onAccount(decideGrantCredits);
