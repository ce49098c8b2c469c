import { TEXT_LENGTH_MAX } from '../limits.js';
import { RuleViolation } from '../rule-violation.js';
import { RULES, isHttpUrl, isId, isOptional, isText, requireValid } from '../validation.js';
import type {
  RegisterWebhookEndpoint,
  RotateWebhookSecret,
  SetWebhookEndpointEnabled,
  WebhookEndpointCommand,
} from './webhook-endpoint.commands.js';
import {
  ALL_OUTBOUND_EVENTS,
  OUTBOUND_EVENT_TYPES,
  type OutboundSubscription,
  type WebhookEndpointEvent,
} from './webhook-endpoint.events.js';
import type { WebhookEndpointState } from './webhook-endpoint.state.js';

/** How long a rotated-out secret still signs, so receivers can switch without missing a delivery. */
export const SECRET_OVERLAP_HOURS = 24;

export type WebhookEndpointReply = Readonly<{
  endpointId: string;
  url?: string;
  events?: readonly OutboundSubscription[];
  description?: string | null;
  status: 'enabled' | 'disabled';
  createdAt?: string;
  previousSecretExpiresAt?: string;
}>;
export type WebhookEndpointDecision = Readonly<{
  webhookEndpoint: readonly WebhookEndpointEvent[];
  reply: WebhookEndpointReply;
}>;

const SUBSCRIPTIONS: readonly string[] = [ALL_OUTBOUND_EVENTS, ...OUTBOUND_EVENT_TYPES];

export function decideRegisterWebhookEndpoint(
  state: WebhookEndpointState,
  command: RegisterWebhookEndpoint,
): WebhookEndpointDecision {
  requireValid([
    ['endpointId', isId(command.endpointId), RULES.id],
    ['url', isHttpUrl(command.url), RULES.url],
    [
      'events',
      command.events.length > 0 && command.events.every((type) => SUBSCRIPTIONS.includes(type)),
      `a non-empty list of ${SUBSCRIPTIONS.join(', ')}`,
    ],
    [
      'description',
      isOptional(command.description, (v) => isText(v, TEXT_LENGTH_MAX)),
      `1 to ${TEXT_LENGTH_MAX} characters`,
    ],
    ['secretId', isId(command.secretId), RULES.id],
  ]);
  if (state.status !== 'none') {
    throw new RuleViolation('already_exists', `the endpoint ${command.endpointId} already exists`, {
      endpointId: command.endpointId,
    });
  }
  // `*` covers every type: listing more beside it says nothing more. Otherwise each type once, in catalogue order.
  const events: readonly OutboundSubscription[] = command.events.includes(ALL_OUTBOUND_EVENTS)
    ? [ALL_OUTBOUND_EVENTS]
    : OUTBOUND_EVENT_TYPES.filter((type) => command.events.includes(type));
  const { endpointId, url, description, secretId } = command;
  return {
    webhookEndpoint: [
      {
        type: 'WebhookEndpointRegistered',
        data: { endpointId, url, events, ...(description === undefined ? {} : { description }), secretId },
      },
    ],
    reply: {
      endpointId,
      url,
      events,
      description: description ?? null,
      status: 'enabled',
      createdAt: command.now.toISOString(),
    },
  };
}

export function decideRotateWebhookSecret(
  state: WebhookEndpointState,
  command: RotateWebhookSecret,
): WebhookEndpointDecision {
  requireValid([
    ['endpointId', isId(command.endpointId), RULES.id],
    ['secretId', isId(command.secretId), RULES.id],
  ]);
  const endpoint = existing(state, command.endpointId);
  const previousExpiresAt = new Date(command.now.getTime() + SECRET_OVERLAP_HOURS * 3_600_000).toISOString();
  return {
    webhookEndpoint: [
      {
        type: 'WebhookEndpointSecretRotated',
        data: {
          endpointId: command.endpointId,
          secretId: command.secretId,
          previousSecretId: endpoint.secretId,
          previousExpiresAt,
        },
      },
    ],
    reply: { endpointId: command.endpointId, status: endpoint.status, previousSecretExpiresAt: previousExpiresAt },
  };
}

/** Disabling a disabled endpoint (or enabling an enabled one) is `invalid_transition`. */
export function decideSetWebhookEndpointEnabled(
  state: WebhookEndpointState,
  command: SetWebhookEndpointEnabled,
): WebhookEndpointDecision {
  requireValid([['endpointId', isId(command.endpointId), RULES.id]]);
  const endpoint = existing(state, command.endpointId);
  const target = command.enabled ? 'enabled' : 'disabled';
  if (endpoint.status === target) {
    throw new RuleViolation('invalid_transition', `the endpoint ${command.endpointId} is already ${target}`, {
      endpointId: command.endpointId,
      status: endpoint.status,
    });
  }
  const event: WebhookEndpointEvent = command.enabled
    ? { type: 'WebhookEndpointEnabled', data: { endpointId: command.endpointId } }
    : { type: 'WebhookEndpointDisabled', data: { endpointId: command.endpointId } };
  return { webhookEndpoint: [event], reply: { endpointId: command.endpointId, status: target } };
}

export function decideWebhookEndpoint(
  state: WebhookEndpointState,
  command: WebhookEndpointCommand,
): WebhookEndpointDecision {
  switch (command.type) {
    case 'RegisterWebhookEndpoint':
      return decideRegisterWebhookEndpoint(state, command);
    case 'RotateWebhookSecret':
      return decideRotateWebhookSecret(state, command);
    case 'SetWebhookEndpointEnabled':
      return decideSetWebhookEndpointEnabled(state, command);
  }
}

function existing(state: WebhookEndpointState, endpointId: string) {
  if (state.status === 'none') {
    throw new RuleViolation('not_found', `no webhook endpoint ${endpointId}`, { endpointId });
  }
  return state;
}
