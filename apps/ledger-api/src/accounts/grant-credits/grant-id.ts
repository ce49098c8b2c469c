import { createHash } from 'node:crypto';
import type { CommandContext } from '../../commands/idempotency.js';

/**
 * The grantId of a grant that named none: derived from the caller and its Idempotency-Key,
 * so every retry of the request names the same lot (and the replayed answer agrees with it).
 */
export function derivedGrantId(context: Pick<CommandContext, 'caller' | 'idempotencyKey'>): string {
  const digest = createHash('sha256').update(`${context.caller}\n${context.idempotencyKey}`).digest('hex');
  return `grant-${digest.slice(0, 32)}`;
}
