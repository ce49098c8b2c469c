import { createHash } from 'node:crypto';

/** Every stream name comes from here, so the handlers, the projector and the audit agree on them. */

export function accountStream(accountId: string): string {
  return `account-${accountId}`;
}

export function projectStream(projectId: string): string {
  return `project-${projectId}`;
}

/**
 * The stream that records a command's first outcome for one caller and idempotency key.
 * The key is hashed because it is caller-chosen text (up to 255 characters, any bytes)
 * and a stream name must stay short and safe; the newline keeps ("ab", "c") and
 * ("a", "bc") apart, since neither an API key name nor a header value contains one.
 */
export function idempotencyStream(caller: string, idempotencyKey: string): string {
  const digest = createHash('sha256').update(`${caller}\n${idempotencyKey}`, 'utf8').digest('hex');
  return `idem-${digest}`;
}
