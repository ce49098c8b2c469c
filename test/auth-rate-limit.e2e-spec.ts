import { client, startTestApp, type Reply, type TestApp } from '@ledger/test-support';

/** Each key has a token bucket per replica: twice its rate at once, then its rate. */
describe('rate limits', () => {
  let t: TestApp;
  let api: ReturnType<typeof client>;

  beforeAll(async () => {
    // A low default, so that a configured key is limited too.
    t = await startTestApp('auth_rate', { env: { LEDGER_RATE_LIMIT_PER_SECOND: '3' } });
    api = client(t);
  });
  afterAll(async () => {
    await t.close();
  });

  async function burst(count: number, send: () => Promise<Reply>) {
    const startMs = performance.now();
    const replies = await Promise.all(Array.from({ length: count }, send));
    const seconds = (performance.now() - startMs) / 1000;
    return { replies, seconds };
  }

  function checked(replies: Reply[], rate: number, seconds: number) {
    const statuses = replies.map((r) => r.status);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    const limited = replies.filter((r) => r.status === 429);
    for (const reply of limited) {
      expect(reply.body.error.code).toBe('rate_limited');
      expect(String(reply.headers['retry-after'])).toMatch(/^[1-9]\d*$/);
    }
    const successes = statuses.filter((s) => s < 300).length;
    expect(successes).toBeGreaterThanOrEqual(1);
    // At most the burst and what refilled while the requests ran.
    expect(successes).toBeLessThanOrEqual(2 * rate + Math.floor(rate * seconds));
    expect(successes + limited.length).toBe(replies.length);
    return limited.length;
  }

  it('gives a key with ratePerSecond 5 under 50 concurrent requests 429s with Retry-After, no 5xx', async () => {
    const create = await api.post('/v1/api-keys', { name: 'dashboard', scopes: ['read'], ratePerSecond: 5 });
    const secret = create.body.secret as string;
    const { replies, seconds } = await burst(50, () => api.get('/v1/projects', { key: secret }));
    expect(checked(replies, 5, seconds)).toBeGreaterThanOrEqual(50 - 10 - Math.ceil(5 * seconds));
  });

  it('limits configured keys at LEDGER_RATE_LIMIT_PER_SECOND, and refuses a command past it before appending', async () => {
    const { replies, seconds } = await burst(20, () =>
      api.post('/v1/accounts/acc-r/grants', { amount: 1, source: 'promo' }, { key: t.keys.grant }),
    );
    checked(replies, 3, seconds);
    const accepted = replies.filter((r) => r.status === 201).length;
    // Each accepted grant appended its event and its idempotency record; the refused ones nothing.
    const { rows } = await t.runtime.pool.query<{ n: string }>(
      "SELECT count(*) AS n FROM event_store.events WHERE stream_name = 'account-acc-r'",
    );
    expect(Number(rows[0]!.n)).toBe(accepted);
  });
});
