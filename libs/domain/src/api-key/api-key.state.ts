import type { ApiKeyEvent, Scope } from './api-key.events.js';

/** An API key as its stream says: not created, active, or revoked for good. */
export type ApiKeyState =
  | Readonly<{ status: 'none' }>
  | Readonly<{ status: 'active'; keyId: string; name: string; scopes: readonly Scope[] }>
  | Readonly<{ status: 'revoked'; keyId: string; name: string; scopes: readonly Scope[] }>;

export function initialApiKeyState(): ApiKeyState {
  return { status: 'none' };
}

export function evolveApiKey(state: ApiKeyState, event: ApiKeyEvent): ApiKeyState {
  switch (event.type) {
    case 'ApiKeyCreated':
      return { status: 'active', keyId: event.data.keyId, name: event.data.name, scopes: event.data.scopes };
    case 'ApiKeyRevoked':
      return state.status === 'none' ? state : { ...state, status: 'revoked' };
  }
}
