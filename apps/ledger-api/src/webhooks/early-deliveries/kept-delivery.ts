import { requestHash, type CommandContext } from '../../commands/idempotency.js';
import { createValidationPipe } from '../../http/validation.js';
import { WebhookDeliveryDto } from '../receive-webhook/receive-webhook.dto.js';
import type { KeptDelivery } from '../unmatched-webhooks.js';
import { webhookCaller } from '../webhook-context.js';

// The delivery's body was validated when it arrived; checked again, as the controller does, for its typed form.
const deliveries = createValidationPipe({ unknownFields: 'ignore' });

/**
 * A kept delivery as the command its provider's repeat would send: the same caller, key and
 * request hash (rows kept before the hash was stored: the hash of the body as posted to
 * the provider's path), so the application and the provider's repeats are one request.
 */
export async function keptDeliveryCommand(
  kept: KeptDelivery,
): Promise<{ context: CommandContext; delivery: WebhookDeliveryDto }> {
  const body = JSON.parse(kept.body) as unknown;
  const delivery = (await deliveries.transform(body, {
    type: 'body',
    metatype: WebhookDeliveryDto,
  })) as WebhookDeliveryDto;
  const context: CommandContext = {
    caller: webhookCaller(kept.provider),
    idempotencyKey: kept.deliveryKey,
    requestHash: kept.requestHash ?? requestHash('POST', `/v1/webhooks/${kept.provider}`, body),
    correlationId: `early-delivery-${kept.id}`,
  };
  return { context, delivery };
}
