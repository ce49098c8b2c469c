import type { Scope } from './api-key.events.js';

/** Create a key whose secret the caller generated; only its digest reaches the domain. */
export type CreateApiKey = Readonly<{
  type: 'CreateApiKey';
  keyId: string;
  name: string;
  scopes: readonly Scope[];
  /** sha256 of the secret, hex. */
  digest: string;
  expiresAt?: string;
  ratePerSecond?: number;
  now: Date;
}>;

export type RevokeApiKey = Readonly<{ type: 'RevokeApiKey'; keyId: string; reason?: string; now: Date }>;

export type ApiKeyCommand = CreateApiKey | RevokeApiKey;
