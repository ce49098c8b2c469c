import { decideRevokeApiKey, type ApiKeyReply, type RevokeApiKey } from '@ledger/domain';
import type { CommandHandler, Untimed } from '../../commands/command-handler.js';

/** Revoke a key: decided on its stream (unknown: 404; revoked already: 409). */
export const revokeApiKey: CommandHandler<Untimed<RevokeApiKey>, 'apiKey', ApiKeyReply> = {
  streams: (command) => ({ apiKey: command.keyId }),
  decide: ({ apiKey }, command, now) => decideRevokeApiKey(apiKey, { ...command, now }),
};
