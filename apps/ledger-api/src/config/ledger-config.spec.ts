import { ConfigError, loadConfig, parseApiKeys, parseWebhookSecrets } from './ledger-config.js';

describe('configuration', () => {
  it('defaults to the embedded PostgreSQL on port 3000 with generated keys', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 3000, databaseUrl: undefined, eventStore: 'postgres', apiKeys: undefined });
    expect(config.dataDir.endsWith('.data')).toBe(true);
  });

  it('parses API keys with scopes', () => {
    expect(parseApiKeys('svc:0123456789abcdef:commands,read; fin:fedcba9876543210:audit')).toEqual([
      { name: 'svc', secret: '0123456789abcdef', scopes: ['commands', 'read'] },
      { name: 'fin', secret: 'fedcba9876543210', scopes: ['audit'] },
    ]);
  });

  it.each([
    ['svc:0123456789abcdef', /name:secret:scope/],
    ['svc:short:read', /shorter than 16/],
    ['svc:0123456789abcdef:root', /unknown scope 'root'/],
    ['a:0123456789abcdef:read;a:fedcba9876543210:read', /unique/],
  ])('refuses the API keys %s', (value, message) => {
    expect(() => parseApiKeys(value)).toThrow(message);
  });

  it('keeps several webhook secrets per provider for rotation', () => {
    expect(parseWebhookSecrets('acme:old;acme:new;other:s:with:colons')).toEqual(
      new Map([
        ['acme', ['old', 'new']],
        ['other', ['s:with:colons']],
      ]),
    );
  });

  it('refuses an unknown event store and kurrentdb without a connection string', () => {
    expect(() => loadConfig({ LEDGER_EVENT_STORE: 'mysql' })).toThrow(ConfigError);
    expect(() => loadConfig({ LEDGER_EVENT_STORE: 'kurrentdb' })).toThrow(/EVENTSTORE_CONNECTION_STRING/);
    expect(() => loadConfig({ PORT: '70000' })).toThrow(/PORT/);
  });
});
