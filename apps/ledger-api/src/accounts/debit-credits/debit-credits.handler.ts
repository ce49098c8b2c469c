import { decideDebitCredits } from '@ledger/domain';
import { onAccount } from '../../commands/command-handler.js';

/** Charge credits outside any project: decided on the account's balance alone. */
export const debitCredits = onAccount(decideDebitCredits);
