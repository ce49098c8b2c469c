import type { OutboundSubscription, WebhookEndpointEvent } from './webhook-endpoint.events.js';

/** An outbound endpoint as its stream says: not registered, or enabled / disabled with its current secret. */
export type WebhookEndpointState =
  | Readonly<{ status: 'none' }>
  | Readonly<{
      status: 'enabled' | 'disabled';
      endpointId: string;
      url: string;
      events: readonly OutboundSubscription[];
      secretId: string;
    }>;

export function initialWebhookEndpointState(): WebhookEndpointState {
  return { status: 'none' };
}

export function evolveWebhookEndpoint(state: WebhookEndpointState, event: WebhookEndpointEvent): WebhookEndpointState {
  if (event.type === 'WebhookEndpointRegistered') {
    const { endpointId, url, events, secretId } = event.data;
    return { status: 'enabled', endpointId, url, events, secretId };
  }
  if (state.status === 'none') return state;
  switch (event.type) {
    case 'WebhookEndpointSecretRotated':
      return { ...state, secretId: event.data.secretId };
    case 'WebhookEndpointDisabled':
      return { ...state, status: 'disabled' };
    case 'WebhookEndpointEnabled':
      return { ...state, status: 'enabled' };
  }
}
