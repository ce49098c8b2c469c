import type { DomainEvent } from '../event.js';

/** What an outbound endpoint can subscribe to (API.md, "Outbound webhooks"); `*` is all of them. */
export const OUTBOUND_EVENT_TYPES = [
  'credits.granted',
  'credits.debited',
  'credits.refunded',
  'credits.expired',
  'credits.voided',
  'credits.expiring',
  'balance.low',
  'project.started',
  'project.claimed',
  'project.completed',
  'project.failed',
] as const;
export type OutboundEventType = (typeof OUTBOUND_EVENT_TYPES)[number];
export const ALL_OUTBOUND_EVENTS = '*';
export type OutboundSubscription = OutboundEventType | typeof ALL_OUTBOUND_EVENTS;

/**
 * An operator registered an endpoint to be told of the events it lists. The signing
 * secret itself is kept apart (never in the log): `secretId` names it.
 */
export type WebhookEndpointRegistered = DomainEvent<
  'WebhookEndpointRegistered',
  { endpointId: string; url: string; events: readonly OutboundSubscription[]; description?: string; secretId: string }
>;

/** An operator rotated the endpoint's signing secret; the previous one still signs until `previousExpiresAt`. */
export type WebhookEndpointSecretRotated = DomainEvent<
  'WebhookEndpointSecretRotated',
  { endpointId: string; secretId: string; previousSecretId: string; previousExpiresAt: string }
>;

/** An operator stopped deliveries to the endpoint: events from here on are not owed to it. */
export type WebhookEndpointDisabled = DomainEvent<'WebhookEndpointDisabled', { endpointId: string }>;

/** An operator resumed deliveries to the endpoint, for events from here on. */
export type WebhookEndpointEnabled = DomainEvent<'WebhookEndpointEnabled', { endpointId: string }>;

export type WebhookEndpointEvent =
  WebhookEndpointRegistered | WebhookEndpointSecretRotated | WebhookEndpointDisabled | WebhookEndpointEnabled;
