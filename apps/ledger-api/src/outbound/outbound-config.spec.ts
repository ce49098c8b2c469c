import { ConfigError, loadConfig } from '../config/ledger-config.js';

describe('outbound configuration', () => {
  it('defaults to public addresses only, no default threshold, 72 h notices, retries from 5 s for 3 days', () => {
    expect(loadConfig({}).outbound).toEqual({
      allowPrivate: false,
      lowBalanceThreshold: undefined,
      expiryNoticeHours: 72,
      retry: { firstDelayMs: 5_000, delayMsMax: 3_600_000, windowMs: 259_200_000 },
      concurrencyMax: 16,
      timeoutMs: 10_000,
      pollMs: 1_000,
    });
  });

  it('reads every variable, and refuses a bad value naming it', () => {
    expect(
      loadConfig({
        LEDGER_OUTBOUND_ALLOW_PRIVATE: 'true',
        LEDGER_LOW_BALANCE_THRESHOLD: '0',
        LEDGER_EXPIRY_NOTICE_HOURS: '1',
        LEDGER_OUTBOUND_RETRY_FIRST_MS: '20',
        LEDGER_OUTBOUND_RETRY_WINDOW_SECONDS: '60',
        LEDGER_OUTBOUND_CONCURRENCY: '1',
        LEDGER_OUTBOUND_POLL_MS: '10',
      }).outbound,
    ).toMatchObject({
      allowPrivate: true,
      lowBalanceThreshold: 0,
      expiryNoticeHours: 1,
      retry: { firstDelayMs: 20, windowMs: 60_000 },
      concurrencyMax: 1,
      pollMs: 10,
    });
    for (const [name, value] of [
      ['LEDGER_OUTBOUND_ALLOW_PRIVATE', 'yes'],
      ['LEDGER_LOW_BALANCE_THRESHOLD', '-1'],
      ['LEDGER_LOW_BALANCE_THRESHOLD', '1.5'],
      ['LEDGER_EXPIRY_NOTICE_HOURS', '0'],
      ['LEDGER_OUTBOUND_CONCURRENCY', '257'],
      ['LEDGER_OUTBOUND_POLL_MS', '9'],
    ] as const) {
      expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
      expect(() => loadConfig({ [name]: value })).toThrow(name);
    }
  });
});
