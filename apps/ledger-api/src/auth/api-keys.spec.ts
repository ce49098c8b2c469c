import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiKeyStream } from '@ledger/domain';
import { loadConfig } from '../config/ledger-config.js';
import { ApiKeyRegistry, hasScope, resolveApiKeys, secretDigest, type ApiKey, type KeyEvent } from './api-keys.js';

const NOW = new Date('2026-01-01T00:00:00Z');

function logged(position: bigint, type: string, data: Record<string, unknown>): KeyEvent {
  return { type, data, streamName: apiKeyStream(data.keyId as string), position, at: NOW };
}

function valid(registry: ApiKeyRegistry, secret: string): ApiKey {
  const found = registry.authenticate(secret, NOW);
  if (found.outcome !== 'valid') throw new Error(`expected a valid key, got ${found.outcome}`);
  return found.key;
}

describe('API keys', () => {
  const registry = new ApiKeyRegistry([
    { name: 'svc', secret: 'svc-secret-0123456789', scopes: ['commands'] },
    { name: 'root', secret: 'root-secret-0123456789', scopes: ['admin'] },
    { name: 'worker', secret: 'worker-secret-0123456789', scopes: ['work'], ratePerSecond: 5 },
  ]);

  it('finds a key by its secret and refuses others with only a fingerprint of what was presented', () => {
    expect(valid(registry, 'svc-secret-0123456789')).toMatchObject({ name: 'svc', keyId: 'config:svc' });
    const unknown = registry.authenticate('svc-secret-012345678', NOW);
    expect(unknown).toEqual({ outcome: 'unknown', fingerprint: secretDigest('svc-secret-012345678').slice(0, 8) });
    expect(registry.authenticate('', NOW).outcome).toBe('unknown');
  });

  it('grants a scope to keys that have it, admin, or commands for the four command scopes', () => {
    const svc = valid(registry, 'svc-secret-0123456789');
    const root = valid(registry, 'root-secret-0123456789');
    const worker = valid(registry, 'worker-secret-0123456789');
    for (const scope of ['grant', 'debit', 'start', 'work'] as const) expect(hasScope(svc, scope)).toBe(true);
    expect(hasScope(svc, 'read')).toBe(false);
    expect(hasScope(svc, 'admin')).toBe(false);
    expect(hasScope(root, 'audit')).toBe(true);
    expect(hasScope(worker, 'work')).toBe(true);
    expect(hasScope(worker, 'start')).toBe(false);
    expect(worker.ratePerSecond).toBe(5);
  });

  it('learns keys from the log, tells revoked and expired ones apart, and never lets the log revoke a configured key', () => {
    const keys = new ApiKeyRegistry([{ name: 'root', secret: 'root-secret-0123456789', scopes: ['admin'] }]);
    keys.apply(
      logged(3n, 'ApiKeyCreated', { keyId: 'k1', name: 'app', scopes: ['start'], digest: secretDigest('s1') }),
    );
    keys.apply(
      logged(4n, 'ApiKeyCreated', {
        keyId: 'k2',
        name: 'tmp',
        scopes: ['read'],
        digest: secretDigest('s2'),
        expiresAt: '2026-01-01T00:00:00.000Z',
      }),
    );
    expect(valid(keys, 's1').name).toBe('app');
    expect(keys.authenticate('s2', NOW).outcome).toBe('expired');
    keys.apply(logged(5n, 'ApiKeyRevoked', { keyId: 'k1', name: 'app' }));
    keys.apply(logged(6n, 'ApiKeyRevoked', { keyId: 'config:root', name: 'root' }));
    expect(keys.authenticate('s1', NOW).outcome).toBe('revoked');
    expect(valid(keys, 'root-secret-0123456789').name).toBe('root');
    expect(keys.list(undefined, 10).map((k) => k.keyId)).toEqual(['config:root', 'k1', 'k2']);
    expect(keys.list(keys.get('k1')!.rank, 10).map((k) => k.keyId)).toEqual(['k2']);
  });

  it('generates one admin key on first start, keeps it private, and reuses it', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'ledger-keys-'));
    const config = loadConfig({ LEDGER_DATA_DIR: dataDir });
    const first = await resolveApiKeys(config);
    expect(first.generatedAdminSecret).toMatch(/^ldg_[A-Za-z0-9_-]{43}$/);
    expect((await stat(first.adminKeyFile!)).mode & 0o777).toBe(0o600);
    expect((await readFile(first.adminKeyFile!, 'utf8')).trim()).toBe(first.generatedAdminSecret);
    const second = await resolveApiKeys(config);
    expect(second.generatedAdminSecret).toBeUndefined();
    expect(second.keys).toEqual([{ name: 'admin', secret: first.generatedAdminSecret, scopes: ['admin'] }]);
  });
});
