import { webhookContext } from '../webhook-context.js';
import type { WebhookRequest } from '../webhook-signature.guard.js';
import type { WebhookDeliveryDto } from '../receive-webhook/receive-webhook.dto.js';
import { keptDeliveryCommand } from './kept-delivery.js';

const rawBody =
  '{ "status": "succeeded", "taskId": "task-9", "assets": {"assetUrl": "https://cdn.test/a.mp4"}, "durationMs": 5 }';
const body = JSON.parse(rawBody) as WebhookDeliveryDto;
const request = { url: '/v1/webhooks/kie?x=1', body, id: 'req-1' } as unknown as WebhookRequest;
const received = webhookContext(request, 'kie', body, Buffer.from(rawBody));
const kept = { id: '7', provider: 'kie', taskId: 'task-9', deliveryKey: received.idempotencyKey, body: rawBody };

/** A kept delivery is applied as the provider's repeat of it: one request to idempotency, or its repeats get 422. */
describe('keptDeliveryCommand', () => {
  it('runs under the caller, key and request hash the delivery was kept with', async () => {
    const { context, delivery } = await keptDeliveryCommand({ ...kept, requestHash: received.requestHash });
    // No request carries a kept delivery's application: it has no request id.
    expect(context).toEqual({ ...received, correlationId: 'early-delivery-7', requestId: undefined });
    expect(delivery).toMatchObject({
      taskId: 'task-9',
      status: 'succeeded',
      assets: { assetUrl: 'https://cdn.test/a.mp4' },
    });
  });

  it('computes the hash the receiver computed for a row kept before hashes were stored', async () => {
    const { context } = await keptDeliveryCommand({ ...kept, requestHash: null });
    expect(context.requestHash).toBe(received.requestHash);
    expect(context.caller).toBe('webhook:kie');
  });

  it('refuses a kept body the delivery rules no longer accept (400), rather than applying it', async () => {
    const bad = JSON.stringify({ taskId: 'task-9', status: 'done' });
    await expect(keptDeliveryCommand({ ...kept, body: bad, requestHash: null })).rejects.toMatchObject({
      status: 400,
      code: 'validation_failed',
    });
  });
});
