import {
  decideProviderReport,
  isRuleViolation,
  type AccountState,
  type ApplyProviderReport,
  type ProjectState,
} from '@ledger/domain';
import { onProjectAndPayer } from '../../commands/command-handler.js';
import { ApiError } from '../../errors/api-error.js';

/** A provider's report on its task's project (the provider is its worker of record), with the payer for a refund. */
export const applyProviderReport = onProjectAndPayer(
  (account: AccountState, project: ProjectState, command: ApplyProviderReport) => {
    try {
      return decideProviderReport(account, project, command);
    } catch (error) {
      throw refusedForNow(project, error);
    }
  },
);

/**
 * A success for a project no worker has claimed yet is refused for now, not for
 * good. The executor keeps a rule violation as the answer to its key, and the key
 * here is the delivery's: kept, it would refuse the provider's retries after the
 * claim too. As an ApiError it is answered (409) but not kept.
 */
function refusedForNow(project: ProjectState, error: unknown): unknown {
  if (isRuleViolation(error) && error.code === 'invalid_transition' && project.status === 'pending') {
    return new ApiError(409, error.code, `${error.message}; deliver again once a worker has claimed it`, {
      status: project.status,
    });
  }
  return error;
}
