import { client, startTestApp, WebhookReceiver, type TestApp } from '@ledger/test-support';

/** Without LEDGER_OUTBOUND_ALLOW_PRIVATE, an endpoint can never make the ledger call into its own network. */
describe('outbound webhooks: SSRF guard', () => {
  let t: TestApp;
  let api: ReturnType<typeof client>;

  beforeAll(async () => {
    t = await startTestApp('outbound_ssrf', { env: { LEDGER_WATCHDOG: 'off' } });
    api = client(t);
  });
  afterAll(async () => {
    await t.close();
  });

  it.each([
    ['loopback', 'http://127.0.0.1:8080/hook'],
    ['private', 'http://10.0.0.1/hook'],
    ['cloud metadata (link-local)', 'http://169.254.169.254/latest/meta-data'],
    ['a hostname resolving to loopback', 'http://localhost:3000/hook'],
    ['IPv6 loopback', 'http://[::1]/hook'],
    ['IPv4-mapped IPv6 loopback', 'http://[::ffff:127.0.0.1]/hook'],
    ['a file URL', 'file:///etc/passwd'],
    ['a gopher URL', 'gopher://example.com:70/_hello'],
  ])('refuses %s at registration with 400, appending nothing', async (_case, url) => {
    const head = await api.head();
    const answer = await api.post('/v1/webhook-endpoints', { url, events: ['*'] });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('validation_failed');
    expect(answer.body.error.details.fields[0].field).toBe('url');
    expect(await api.head()).toBe(head);
  });

  it('refuses again at delivery time: an endpoint on loopback (registered while allowed) is never called', async () => {
    const receiver = await WebhookReceiver.start();
    const databaseUrl = t.runtime.databaseUrl;
    // Registered by a replica that allows private addresses, then served by one that does not.
    const permissive = await startTestApp('unused', {
      databaseUrl,
      env: { LEDGER_WATCHDOG: 'off', LEDGER_OUTBOUND_ALLOW_PRIVATE: 'true' },
    });
    const registered = await client(permissive).post('/v1/webhook-endpoints', {
      url: receiver.url('/inside').replace('127.0.0.1', 'localhost'),
      events: ['credits.granted'],
    });
    expect(registered.status).toBe(201);
    await permissive.close();
    const strict = await startTestApp('unused', {
      databaseUrl,
      env: { LEDGER_WATCHDOG: 'off', LEDGER_OUTBOUND_POLL_MS: '20' },
    });
    try {
      const strictApi = client(strict);
      expect((await strictApi.post('/v1/accounts/ssrf-1/grants', { amount: 5, source: 'promo' })).status).toBe(201);
      const deliveriesUrl = `/v1/webhook-endpoints/${registered.body.endpointId}/deliveries`;
      const started = Date.now();
      let item: Record<string, unknown> | undefined;
      while (!item?.lastError) {
        if (Date.now() - started > 20_000) throw new Error('no attempt was recorded');
        item = (await strictApi.get(deliveriesUrl)).body.items?.[0];
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(item.lastError).toMatch(/not a public address/);
      expect(item.lastStatusCode).toBeNull();
      expect(receiver.received).toHaveLength(0);
    } finally {
      await strict.close();
      await receiver.close();
    }
  });
});
