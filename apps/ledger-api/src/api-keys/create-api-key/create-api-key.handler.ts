import { decideCreateApiKey, type ApiKeyReply, type CreateApiKey } from '@ledger/domain';
import type { CommandHandler, Untimed } from '../../commands/command-handler.js';

/** Create a key: decided on its own (new) stream; the command carries the digest, never the secret. */
export const createApiKey: CommandHandler<Untimed<CreateApiKey>, 'apiKey', ApiKeyReply> = {
  streams: (command) => ({ apiKey: command.keyId }),
  decide: ({ apiKey }, command, now) => decideCreateApiKey(apiKey, { ...command, now }),
};
