import { Webhook } from 'standardwebhooks';
import type { StoredEvent } from '@ledger/event-store';
import { bodyOf, lowBalanceNotice, messageOf, subscribes } from './messages.js';
import { RETRY_SCHEDULE_DEFAULT, retryDelayMs } from './retry-schedule.js';
import { newSigningSecret, signedHeaders, webhookIdOf } from './signer.js';
import { checkEndpointUrl, guardedLookup, isPublicAddress, UrlRefusedError } from './ssrf-guard.js';

const event = (extra: Partial<StoredEvent>): StoredEvent => ({
  id: '0b6f2f5e-1111-4c4c-9e9e-000000000001',
  type: 'Debited',
  data: { amount: 30, reason: 'fee' },
  metadata: { at: '2026-01-01T00:00:00.000Z' },
  streamName: 'account-acc-1',
  revision: 3n,
  position: 42n,
  createdAt: new Date('2026-01-01T00:00:01.000Z'),
  ...extra,
});

describe('outbound messages', () => {
  it('map ledger events to catalogue types with ids, amounts, the balance after and the position', () => {
    expect(messageOf(event({}), 70)).toMatchObject({
      type: 'credits.debited',
      key: '0b6f2f5e-1111-4c4c-9e9e-000000000001',
      data: { accountId: 'acc-1', amount: 30, reason: 'fee', balanceAfter: 70, position: 42 },
    });
    expect(
      messageOf(
        event({ type: 'ProjectFailed', streamName: 'project-p1', data: { code: 'x', errorMessage: 'y' } }),
        undefined,
      ),
    ).toMatchObject({ type: 'project.failed', data: { projectId: 'p1', status: 'failed', position: 42 } });
    expect(messageOf(event({ type: 'LeaseExtended', streamName: 'project-p1' }), undefined)).toBeUndefined();
    expect(messageOf(event({ type: 'ApiKeyCreated', streamName: 'apikey-k' }), undefined)).toBeUndefined();
  });

  it('notice balance.low only on a downward crossing', () => {
    const e = event({});
    expect(lowBalanceNotice(e, 'acc-1', 100, 40, 50)).toMatchObject({
      type: 'balance.low',
      data: { balance: 40, threshold: 50 },
    });
    expect(lowBalanceNotice(e, 'acc-1', 50, 49, 50)).toBeDefined();
    expect(lowBalanceNotice(e, 'acc-1', 40, 30, 50)).toBeUndefined();
    expect(lowBalanceNotice(e, 'acc-1', 100, 50, 50)).toBeUndefined();
    expect(lowBalanceNotice(e, 'acc-1', 30, 60, 50)).toBeUndefined();
    expect(lowBalanceNotice(e, 'acc-1', 100, 0, null)).toBeUndefined();
  });

  it('match subscriptions by type or `*`', () => {
    expect(subscribes(['*'], 'balance.low')).toBe(true);
    expect(subscribes(['balance.low'], 'balance.low')).toBe(true);
    expect(subscribes(['credits.granted'], 'balance.low')).toBe(false);
  });
});

describe('signing', () => {
  it('derives a stable webhook-id per message and endpoint', () => {
    expect(webhookIdOf('we_1', 'k')).toBe(webhookIdOf('we_1', 'k'));
    expect(webhookIdOf('we_1', 'k')).not.toBe(webhookIdOf('we_2', 'k'));
    expect(webhookIdOf('we_1', 'k')).not.toBe(webhookIdOf('we_1', 'k2'));
  });

  it('signs so that the standardwebhooks package verifies with each secret given, and not with another', () => {
    const [a, b] = [newSigningSecret(), newSigningSecret()];
    const message = messageOf(event({}), 70)!;
    const body = bodyOf(message);
    const headers = signedHeaders(webhookIdOf('we_1', message.key), body, [a, b], new Date());
    expect(new Webhook(a).verify(body, headers)).toMatchObject({ type: 'credits.debited' });
    expect(new Webhook(b).verify(body, headers)).toMatchObject({ type: 'credits.debited' });
    expect(() => new Webhook(newSigningSecret()).verify(body, headers)).toThrow();
    expect(() => new Webhook(a).verify(body.replace('30', '31'), headers)).toThrow();
  });
});

describe('retry schedule', () => {
  it('grows from about 5 s, jittered ±20%, capped at an hour', () => {
    const s = RETRY_SCHEDULE_DEFAULT;
    expect(retryDelayMs(s, 1, 0.5)).toBe(5_000);
    expect(retryDelayMs(s, 1, 0)).toBe(4_000);
    expect(retryDelayMs(s, 1, 0.999_999)).toBeLessThanOrEqual(6_000);
    expect(retryDelayMs(s, 2, 0.5)).toBe(10_000);
    expect(retryDelayMs(s, 20, 0.5)).toBe(3_600_000);
    expect(retryDelayMs(s, 10_000, 0.999)).toBeLessThanOrEqual(4_320_000);
    // Attempts over 3 days: the waits until the window ends.
    let elapsedMs = 0;
    let attempts = 0;
    while (elapsedMs + retryDelayMs(s, attempts + 1, 0.5) <= s.windowMs) elapsedMs += retryDelayMs(s, ++attempts, 0.5);
    expect(attempts).toBeGreaterThan(70);
    expect(attempts).toBeLessThan(90);
  });
});

describe('SSRF guard', () => {
  it('knows public from loopback, private, link-local, unique-local, CGNAT and mapped addresses', () => {
    for (const address of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111']) expect(isPublicAddress(address)).toBe(true);
    for (const address of [
      '127.0.0.1',
      '10.0.0.1',
      '172.16.5.4',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      'fe80::1',
      'fd00:ec2::254',
      '::ffff:127.0.0.1',
      '::ffff:10.0.0.1',
      'not-an-ip',
    ])
      expect(isPublicAddress(address)).toBe(false);
  });

  it('refuses non-http(s) schemes even when private addresses are allowed', async () => {
    for (const url of [
      'file:///etc/passwd',
      'gopher://example.com/',
      'ftp://example.com/',
      'http://user:pw@example.com/',
    ])
      await expect(checkEndpointUrl(url, true)).rejects.toThrow(UrlRefusedError);
    await expect(checkEndpointUrl('http://127.0.0.1:1/', true)).resolves.toBeUndefined();
    await expect(checkEndpointUrl('http://93.184.215.14/', false)).resolves.toBeUndefined();
  });

  it('refuses at connect time a host that resolves to loopback', async () => {
    const lookup = guardedLookup(false);
    const outcome = await new Promise<Error | null>((resolve) => lookup('localhost', {}, (error) => resolve(error)));
    expect(outcome).toBeInstanceOf(UrlRefusedError);
    const allowed = await new Promise<Error | null>((resolve) =>
      guardedLookup(true)('localhost', {}, (e) => resolve(e)),
    );
    expect(allowed).toBeNull();
  });
});
