import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config/ledger-config.js';
import { ApiKeyRegistry, hasScope, resolveApiKeys } from './api-keys.js';

describe('API keys', () => {
  const registry = new ApiKeyRegistry([
    { name: 'svc', secret: 'svc-secret-0123456789', scopes: ['commands'] },
    { name: 'root', secret: 'root-secret-0123456789', scopes: ['admin'] },
  ]);

  it('finds a key by its secret and refuses others', () => {
    expect(registry.authenticate('svc-secret-0123456789')?.name).toBe('svc');
    expect(registry.authenticate('svc-secret-012345678')).toBeUndefined();
    expect(registry.authenticate('')).toBeUndefined();
  });

  it('grants a scope to keys that have it or admin', () => {
    const svc = registry.authenticate('svc-secret-0123456789')!;
    const root = registry.authenticate('root-secret-0123456789')!;
    expect(hasScope(svc, 'commands')).toBe(true);
    expect(hasScope(svc, 'read')).toBe(false);
    expect(hasScope(root, 'audit')).toBe(true);
  });

  it('generates one admin key on first start, keeps it private, and reuses it', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'ledger-keys-'));
    const config = loadConfig({ LEDGER_DATA_DIR: dataDir });
    const first = await resolveApiKeys(config);
    expect(first.generatedAdminSecret).toMatch(/^ldg_/);
    expect((await stat(first.adminKeyFile!)).mode & 0o777).toBe(0o600);
    expect((await readFile(first.adminKeyFile!, 'utf8')).trim()).toBe(first.generatedAdminSecret);
    const second = await resolveApiKeys(config);
    expect(second.generatedAdminSecret).toBeUndefined();
    expect(second.keys).toEqual([{ name: 'admin', secret: first.generatedAdminSecret, scopes: ['admin'] }]);
  });
});
