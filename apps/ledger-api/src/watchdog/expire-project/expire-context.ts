import { FAIL_CODE_ATTEMPTS_EXHAUSTED } from '@ledger/domain';
import { requestHash, type CommandContext } from '../../commands/idempotency.js';
import { WATCHDOG_CALLER } from '../../config/ledger-config.js';
import type { DueProject } from '../due-projects.js';

// A name no API key may take (the configuration refuses it), so no client shares these keys.
export { WATCHDOG_CALLER };

/**
 * The idempotency key names the situation the watchdog acted on, as the read model showed
 * it, so a sweep that sees it again (the read model lagging) replays the first answer.
 * An exhausted attempt also names its lease: a heartbeat may extend a lease that ran out,
 * and the expiry that answered "not yet" then must not stand for the lease's real end.
 * A deadline needs no more: once passed it stays passed, so "not yet" never happens.
 */
export function expireKey(project: DueProject): string {
  const base = `expire:${project.projectId}:${project.attempt}:${project.reason}`;
  return project.reason === FAIL_CODE_ATTEMPTS_EXHAUSTED && project.leaseExpiresAt
    ? `${base}:${project.leaseExpiresAt.toISOString()}`
    : base;
}

/**
 * The request is what the key names, nothing else: a changed LEDGER_ATTEMPTS_MAX must not
 * turn a replay into `idempotency_key_reused`.
 */
export function expireContext(project: DueProject, correlationId: string): CommandContext {
  const idempotencyKey = expireKey(project);
  return {
    caller: WATCHDOG_CALLER,
    idempotencyKey,
    requestHash: requestHash('WATCHDOG', 'expire', { idempotencyKey }),
    correlationId,
  };
}
