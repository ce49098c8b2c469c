import type { FieldProblem } from '../validation.js';
import { specification } from '../testing/specification.js';
import type { WebhookEndpointCommand, RegisterWebhookEndpoint } from './webhook-endpoint.commands.js';
import { decideWebhookEndpoint, SECRET_OVERLAP_HOURS } from './webhook-endpoint.decide.js';
import type { WebhookEndpointEvent } from './webhook-endpoint.events.js';
import { evolveWebhookEndpoint, initialWebhookEndpointState } from './webhook-endpoint.state.js';

const given = specification({
  initialState: initialWebhookEndpointState,
  evolve: evolveWebhookEndpoint,
  decide: decideWebhookEndpoint,
  eventsOf: (decision) => decision.webhookEndpoint,
});
const NOW = new Date('2026-01-01T00:00:00.000Z');
const register = (extra: Partial<RegisterWebhookEndpoint> = {}): WebhookEndpointCommand => ({
  type: 'RegisterWebhookEndpoint',
  endpointId: 'we_1',
  url: 'https://billing.example.com/hooks',
  events: ['project.completed', 'balance.low'],
  secretId: 'ws_1',
  now: NOW,
  ...extra,
});
const registered: WebhookEndpointEvent = {
  type: 'WebhookEndpointRegistered',
  data: {
    endpointId: 'we_1',
    url: 'https://billing.example.com/hooks',
    events: ['balance.low', 'project.completed'],
    secretId: 'ws_1',
  },
};
const badFields = (details: unknown) => (details as { fields: FieldProblem[] }).fields.map((p) => p.field);

describe('webhook endpoint decider', () => {
  it('registers an endpoint with its types once each in catalogue order; `*` alone when listed', () => {
    given([])
      .when(register({ events: ['project.completed', 'balance.low', 'balance.low'] }))
      .then([registered]);
    given([])
      .when(register({ events: ['credits.granted', '*'], description: 'billing' }))
      .then([{ ...registered, data: { ...registered.data, events: ['*'], description: 'billing' } }]);
  });

  it('refuses bad input naming every field, and an endpoint that exists', () => {
    const violation = given([])
      .when(register({ url: 'ftp://x', events: [], description: '', secretId: '' }))
      .thenFails('validation_failed');
    expect(badFields(violation.details)).toEqual(['url', 'events', 'description', 'secretId']);
    given([])
      .when(register({ events: ['credits.stolen'] }))
      .thenFails('validation_failed');
    given([registered]).when(register()).thenFails('already_exists');
  });

  it('rotates the secret, keeping the previous one for the overlap', () => {
    const decision = given([registered])
      .when({ type: 'RotateWebhookSecret', endpointId: 'we_1', secretId: 'ws_2', now: NOW })
      .then([
        {
          type: 'WebhookEndpointSecretRotated',
          data: {
            endpointId: 'we_1',
            secretId: 'ws_2',
            previousSecretId: 'ws_1',
            previousExpiresAt: new Date(NOW.getTime() + SECRET_OVERLAP_HOURS * 3_600_000).toISOString(),
          },
        },
      ]);
    expect(decision.reply.previousSecretExpiresAt).toBe('2026-01-02T00:00:00.000Z');
    given([])
      .when({ type: 'RotateWebhookSecret', endpointId: 'we_1', secretId: 'ws_2', now: NOW })
      .thenFails('not_found');
  });

  it('disables and enables, refusing the state it is already in', () => {
    const disable = { type: 'SetWebhookEndpointEnabled', endpointId: 'we_1', enabled: false, now: NOW } as const;
    const disabled: WebhookEndpointEvent = { type: 'WebhookEndpointDisabled', data: { endpointId: 'we_1' } };
    given([registered]).when(disable).then([disabled]);
    given([registered, disabled]).when(disable).thenFails('invalid_transition');
    given([registered, disabled])
      .when({ ...disable, enabled: true })
      .then([{ type: 'WebhookEndpointEnabled', data: { endpointId: 'we_1' } }]);
    given([registered])
      .when({ ...disable, enabled: true })
      .thenFails('invalid_transition');
    given([]).when(disable).thenFails('not_found');
  });
});
