import type { ApiKey } from '../../auth/api-keys.js';

export const API_KEY_LIST_DESCRIPTION =
  'page of `{keyId, name, scopes, expiresAt, revokedAt, ratePerSecond, source: "config" | "api", createdAt}`, never a secret: `{items, nextCursor}`';

/** A key as the list shows it: everything but its digest. */
export function apiKeyView(key: ApiKey) {
  return {
    keyId: key.keyId,
    name: key.name,
    scopes: [...key.scopes],
    expiresAt: key.expiresAt?.toISOString() ?? null,
    revokedAt: key.revokedAt?.toISOString() ?? null,
    ratePerSecond: key.ratePerSecond ?? null,
    source: key.source,
    createdAt: key.createdAt?.toISOString() ?? null,
  };
}
