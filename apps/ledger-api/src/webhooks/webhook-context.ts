import { createHash } from 'node:crypto';
import { requestHash, type CommandContext } from '../commands/idempotency.js';
import type { WebhookDeliveryDto } from './receive-webhook/receive-webhook.dto.js';
import type { WebhookRequest } from './webhook-signature.guard.js';

/** The caller a provider's deliveries run under: idempotency keys are scoped per caller. */
export function webhookCaller(provider: string): string {
  return `webhook:${provider}`;
}

/**
 * The delivery as a command's caller and key: the provider's delivery id, else the
 * SHA-256 of the raw body, so the provider's retry of a delivery is its repeat.
 */
export function webhookContext(
  request: WebhookRequest,
  provider: string,
  delivery: WebhookDeliveryDto,
  rawBody: Buffer,
): CommandContext {
  const path = request.url.split('?')[0] ?? request.url;
  return {
    caller: webhookCaller(provider),
    idempotencyKey: delivery.deliveryId ?? createHash('sha256').update(rawBody).digest('hex'),
    requestHash: requestHash('POST', path, request.body),
    correlationId: String(request.id),
    requestId: String(request.id),
  };
}
