import { Inject, Injectable } from '@nestjs/common';
import { RuleViolation, accountStream, type AccountState } from '@ledger/domain';
import { StreamStateCache } from '../commands/stream-state.cache.js';
import { toPositionNumber } from '../commands/idempotency.js';
import { ACCOUNT_STATES } from '../commands/commands.tokens.js';

/**
 * Reads an account by folding its stream (through the state cache) until the
 * projections serve these queries.
 */
@Injectable()
export class AccountQueries {
  constructor(@Inject(ACCOUNT_STATES) private readonly accounts: StreamStateCache<AccountState>) {}

  async account(accountId: string) {
    const loaded = await this.accounts.load(accountStream(accountId));
    if (!loaded.state.exists || loaded.lastPosition === undefined) {
      throw new RuleViolation('not_found', `account ${accountId} does not exist`, { accountId });
    }
    const { balance, totalGranted, totalDebited, totalRefunded } = loaded.state;
    return {
      accountId,
      balance,
      totalGranted,
      totalDebited,
      totalRefunded,
      updatedAt: loaded.lastEventAt,
      position: toPositionNumber(loaded.lastPosition),
    };
  }
}
