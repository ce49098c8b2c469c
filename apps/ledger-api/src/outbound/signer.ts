import { createHash, randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/** A new signing secret in the Standard Webhooks form: `whsec_` and 32 random bytes in base64. */
export function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/**
 * The `webhook-id` of one message to one endpoint: derived, not stored first, so a
 * replay of the log after a crash names the same delivery (the table's unique key
 * then keeps one row) and a receiver dedupes every attempt by it.
 */
export function webhookIdOf(endpointId: string, messageKey: string): string {
  return `msg_${createHash('sha256').update(`${endpointId}\n${messageKey}`).digest('base64url').slice(0, 32)}`;
}

/**
 * The three Standard Webhooks headers of one attempt. Every secret still valid signs
 * (during a rotation's overlap, the new and the old), space-separated, so a receiver
 * holding either verifies.
 */
export function signedHeaders(
  webhookId: string,
  body: string,
  secrets: readonly string[],
  at: Date,
): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  const signatures = secrets.map((secret) => new Webhook(secret).sign(webhookId, at, body));
  return {
    'webhook-id': webhookId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': signatures.join(' '),
  };
}
