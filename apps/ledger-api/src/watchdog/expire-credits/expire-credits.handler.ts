import { decideExpireCredits } from '@ledger/domain';
import { onAccount } from '../../commands/command-handler.js';

/**
 * Records that a lot passed its expiry, in one append fenced by the account's revision: a
 * debit at the same instant either lands first (and could not draw from the lot anyway, it
 * expired) or finds the expiry recorded. A lot not due, spent or already closed: nothing.
 */
export const expireCredits = onAccount(decideExpireCredits);
