import type { LotDueForExpiry } from '@ledger/projections';
import { requestHash, type CommandContext } from '../../commands/idempotency.js';
import { WATCHDOG_CALLER } from '../../config/ledger-config.js';

/**
 * One key per lot: a lot expires once. The first decision's answer stands for good, even
 * "nothing to expire" (the read model lagged behind a debit that spent the lot first):
 * once past its expiry a lot never holds spendable credits again, since a refund to it
 * expires in the same append.
 */
export function expireLotKey(lot: Pick<LotDueForExpiry, 'accountId' | 'grantId'>): string {
  return `expire-lot:${lot.accountId}:${lot.grantId}`;
}

export function expireLotContext(
  lot: Pick<LotDueForExpiry, 'accountId' | 'grantId'>,
  correlationId: string,
): CommandContext {
  const idempotencyKey = expireLotKey(lot);
  return {
    caller: WATCHDOG_CALLER,
    idempotencyKey,
    requestHash: requestHash('WATCHDOG', 'expire-lot', { idempotencyKey }),
    correlationId,
  };
}
