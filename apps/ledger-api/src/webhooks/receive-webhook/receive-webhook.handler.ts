import { decideProviderReport } from '@ledger/domain';
import { onProjectAndPayer } from '../../commands/command-handler.js';

/**
 * A provider's report on its task's project (the provider is its worker of record: it may
 * end a pending project as well as a processing one), with the payer for a refund.
 */
export const applyProviderReport = onProjectAndPayer(decideProviderReport);
