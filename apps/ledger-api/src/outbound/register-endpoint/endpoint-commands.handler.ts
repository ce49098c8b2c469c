import {
  decideRegisterWebhookEndpoint,
  decideRotateWebhookSecret,
  decideSetWebhookEndpointEnabled,
  type RegisterWebhookEndpoint,
  type RotateWebhookSecret,
  type SetWebhookEndpointEnabled,
  type WebhookEndpointReply,
} from '@ledger/domain';
import type { CommandHandler, Untimed } from '../../commands/command-handler.js';

/** Register an endpoint: decided on its own (new) stream; the command names the secret, never holds it. */
export const registerEndpoint: CommandHandler<
  Untimed<RegisterWebhookEndpoint>,
  'webhookEndpoint',
  WebhookEndpointReply
> = {
  streams: (command) => ({ webhookEndpoint: command.endpointId }),
  decide: ({ webhookEndpoint }, command, now) => decideRegisterWebhookEndpoint(webhookEndpoint, { ...command, now }),
};

export const rotateSecret: CommandHandler<Untimed<RotateWebhookSecret>, 'webhookEndpoint', WebhookEndpointReply> = {
  streams: (command) => ({ webhookEndpoint: command.endpointId }),
  decide: ({ webhookEndpoint }, command, now) => decideRotateWebhookSecret(webhookEndpoint, { ...command, now }),
};

export const setEndpointEnabled: CommandHandler<
  Untimed<SetWebhookEndpointEnabled>,
  'webhookEndpoint',
  WebhookEndpointReply
> = {
  streams: (command) => ({ webhookEndpoint: command.endpointId }),
  decide: ({ webhookEndpoint }, command, now) => decideSetWebhookEndpointEnabled(webhookEndpoint, { ...command, now }),
};
