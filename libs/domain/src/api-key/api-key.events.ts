import type { DomainEvent } from '../event.js';

/** What a key may do (API.md, "Keys and scopes"); `commands` is grant + debit + start + work. */
export const SCOPES = ['grant', 'debit', 'start', 'work', 'read', 'audit', 'admin', 'commands'] as const;
export type Scope = (typeof SCOPES)[number];

/** An operator created an API key. Only a digest of its secret is kept, never the secret. */
export type ApiKeyCreated = DomainEvent<
  'ApiKeyCreated',
  {
    keyId: string;
    name: string;
    scopes: readonly Scope[];
    /** sha256 of the secret, hex. */
    digest: string;
    /** ISO 8601; absent: the key never expires. */
    expiresAt?: string;
    ratePerSecond?: number;
  }
>;

/** An operator revoked an API key: from then on every replica refuses it. */
export type ApiKeyRevoked = DomainEvent<'ApiKeyRevoked', { keyId: string; name: string; reason?: string }>;

export type ApiKeyEvent = ApiKeyCreated | ApiKeyRevoked;
