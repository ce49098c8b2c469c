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

  it('parses the fine-grained scopes and an optional rate per key', () => {
    expect(parseApiKeys('billing:0123456789abcdef:grant,read:20;worker:fedcba9876543210:work')).toEqual([
      { name: 'billing', secret: '0123456789abcdef', scopes: ['grant', 'read'], ratePerSecond: 20 },
      { name: 'worker', secret: 'fedcba9876543210', scopes: ['work'] },
    ]);
  });

  it('bounds the stream states kept in memory at 32 MB unless LEDGER_STATE_CACHE_MB says otherwise', () => {
    expect(loadConfig({}).stateCacheMb).toBe(32);
    expect(loadConfig({ LEDGER_STATE_CACHE_MB: '256' }).stateCacheMb).toBe(256);
    expect(() => loadConfig({ LEDGER_STATE_CACHE_MB: '0' })).toThrow(ConfigError);
    expect(() => loadConfig({ LEDGER_STATE_CACHE_MB: '1.5' })).toThrow(ConfigError);
  });

  it('limits each key to 500 requests a second unless LEDGER_RATE_LIMIT_PER_SECOND says otherwise', () => {
    expect(loadConfig({}).rateLimitPerSecond).toBe(500);
    expect(loadConfig({ LEDGER_RATE_LIMIT_PER_SECOND: '7' }).rateLimitPerSecond).toBe(7);
    expect(() => loadConfig({ LEDGER_RATE_LIMIT_PER_SECOND: '0' })).toThrow(ConfigError);
    expect(() => loadConfig({ LEDGER_RATE_LIMIT_PER_SECOND: '1.5' })).toThrow(ConfigError);
  });

  it.each([
    ['svc:0123456789abcdef', /name:secret:scope/],
    ['svc:short:read', /shorter than 16/],
    ['svc:0123456789abcdef:root', /unknown scope 'root'/],
    ['a:0123456789abcdef:read;a:fedcba9876543210:read', /unique/],
    ['svc:0123456789abcdef:read:', /rate of 'svc'/],
    ['svc:0123456789abcdef:read:0', /rate of 'svc'/],
    ['svc:0123456789abcdef:read:5:x', /name:secret:scope/],
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

  it('runs the watchdog by default every 5 s, failing after 3 attempts, with a one-hour default deadline', () => {
    expect(loadConfig({})).toMatchObject({
      deadlineSecondsDefault: 3600,
      watchdog: { enabled: true, intervalMs: 5_000, attemptsMax: 3 },
    });
    expect(
      loadConfig({
        LEDGER_WATCHDOG: 'off',
        LEDGER_WATCHDOG_INTERVAL_MS: '10',
        LEDGER_ATTEMPTS_MAX: '1',
        LEDGER_DEADLINE_SECONDS_DEFAULT: String(7 * 24 * 3600),
      }),
    ).toMatchObject({
      deadlineSecondsDefault: 7 * 24 * 3600,
      watchdog: { enabled: false, intervalMs: 10, attemptsMax: 1 },
    });
  });

  it.each([
    ['LEDGER_WATCHDOG', 'yes', /LEDGER_WATCHDOG must be 'on' or 'off'/],
    ['LEDGER_WATCHDOG_INTERVAL_MS', '9', /LEDGER_WATCHDOG_INTERVAL_MS must be an integer from 10/],
    ['LEDGER_WATCHDOG_INTERVAL_MS', '1e3', /LEDGER_WATCHDOG_INTERVAL_MS/],
    ['LEDGER_ATTEMPTS_MAX', '0', /LEDGER_ATTEMPTS_MAX must be an integer from 1/],
    ['LEDGER_ATTEMPTS_MAX', '2.5', /LEDGER_ATTEMPTS_MAX/],
    ['LEDGER_DEADLINE_SECONDS_DEFAULT', String(7 * 24 * 3600 + 1), /LEDGER_DEADLINE_SECONDS_DEFAULT .* to 604800/],
    ['LEDGER_DEADLINE_SECONDS_DEFAULT', '-5', /LEDGER_DEADLINE_SECONDS_DEFAULT/],
  ])('refuses %s=%s', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });

  it("reserves the watchdog's caller name, so no API key shares its idempotency keys", () => {
    expect(() => parseApiKeys('watchdog:0123456789abcdef:admin')).toThrow(/reserved/);
  });
});
