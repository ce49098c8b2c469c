import { decideVoidGrant } from '@ledger/domain';
import { onAccount } from '../../commands/command-handler.js';

/** Void what remains of a lot: decided on the account's lots alone. */
export const voidGrant = onAccount(decideVoidGrant);
