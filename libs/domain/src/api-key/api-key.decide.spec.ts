import type { FieldProblem } from '../validation.js';
import { specification } from '../testing/specification.js';
import type { ApiKeyCommand, CreateApiKey } from './api-key.commands.js';
import {
  API_KEY_LIFETIME_DAYS_MAX,
  RATE_PER_SECOND_MAX,
  SERVICE_CALLER_NAMES,
  decideApiKey,
} from './api-key.decide.js';
import type { ApiKeyEvent } from './api-key.events.js';
import { evolveApiKey, initialApiKeyState } from './api-key.state.js';

const given = specification({
  initialState: initialApiKeyState,
  evolve: evolveApiKey,
  decide: decideApiKey,
  eventsOf: (decision) => decision.apiKey,
});

const NOW = new Date('2026-01-01T00:00:00.000Z');
const DIGEST = 'a'.repeat(64);
const create = (extra: Partial<CreateApiKey> = {}): ApiKeyCommand => ({
  type: 'CreateApiKey',
  keyId: 'key_1',
  name: 'billing',
  scopes: ['grant'],
  digest: DIGEST,
  now: NOW,
  ...extra,
});
const created: ApiKeyEvent = {
  type: 'ApiKeyCreated',
  data: { keyId: 'key_1', name: 'billing', scopes: ['grant'], digest: DIGEST },
};
const revoked: ApiKeyEvent = { type: 'ApiKeyRevoked', data: { keyId: 'key_1', name: 'billing' } };
const badFields = (details: unknown) => (details as { fields: FieldProblem[] }).fields.map((problem) => problem.field);

describe('API key decider', () => {
  it('creates a key with its digest, scopes in canonical order, once each', () => {
    given([])
      .when(create({ scopes: ['work', 'grant', 'work'], expiresAt: '2026-02-01T00:00:00Z', ratePerSecond: 5 }))
      .then([
        {
          type: 'ApiKeyCreated',
          data: {
            keyId: 'key_1',
            name: 'billing',
            scopes: ['grant', 'work'],
            digest: DIGEST,
            expiresAt: '2026-02-01T00:00:00.000Z',
            ratePerSecond: 5,
          },
        },
      ]);
  });

  it('refuses a key id that exists', () => {
    given([created]).when(create()).thenFails('already_exists');
  });

  it('refuses bad input, naming every field', () => {
    const violation = given([])
      .when(
        create({
          name: 'a:b',
          scopes: [],
          digest: 'secret',
          expiresAt: '2025-12-31T23:59:59Z',
          ratePerSecond: RATE_PER_SECOND_MAX + 1,
        }),
      )
      .thenFails('validation_failed');
    expect(badFields(violation.details)).toEqual(['name', 'scopes', 'digest', 'expiresAt', 'ratePerSecond']);
  });

  it('refuses the name of one of the service’s own callers, in any case, as a bad name', () => {
    expect(SERVICE_CALLER_NAMES).toContain('watchdog');
    for (const name of ['watchdog', 'WatchDog', ...SERVICE_CALLER_NAMES]) {
      const violation = given([]).when(create({ name })).thenFails('validation_failed');
      expect(badFields(violation.details)).toEqual(['name']);
    }
    given([])
      .when(create({ name: 'watchdog-2' }))
      .then([{ ...created, data: { ...created.data, name: 'watchdog-2' } } as ApiKeyEvent]);
  });

  it('takes an expiry up to its bound and the largest rate, and refuses one past them', () => {
    const lastMs = NOW.getTime() + API_KEY_LIFETIME_DAYS_MAX * 86_400_000;
    given([])
      .when(create({ expiresAt: new Date(lastMs).toISOString(), ratePerSecond: RATE_PER_SECOND_MAX }))
      .then([
        {
          type: 'ApiKeyCreated',
          data: { ...created.data, expiresAt: new Date(lastMs).toISOString(), ratePerSecond: RATE_PER_SECOND_MAX },
        },
      ]);
    given([])
      .when(create({ expiresAt: new Date(lastMs + 1).toISOString() }))
      .thenFails('validation_failed');
    given([])
      .when(create({ expiresAt: 'not a date' }))
      .thenFails('validation_failed');
    given([])
      .when(create({ ratePerSecond: 0 }))
      .thenFails('validation_failed');
  });

  it('revokes an active key, with its name and reason', () => {
    given([created])
      .when({ type: 'RevokeApiKey', keyId: 'key_1', reason: 'leaked', now: NOW })
      .then([{ type: 'ApiKeyRevoked', data: { keyId: 'key_1', name: 'billing', reason: 'leaked' } }]);
  });

  it('refuses to revoke an unknown key or one already revoked', () => {
    given([]).when({ type: 'RevokeApiKey', keyId: 'key_1', now: NOW }).thenFails('not_found');
    given([created, revoked]).when({ type: 'RevokeApiKey', keyId: 'key_1', now: NOW }).thenFails('invalid_transition');
  });
});
