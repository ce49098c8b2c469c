import { client, ManualClock, startTestApp, type TestApp } from '@ledger/test-support';

/** The failures DESIGN.md says this ledger exists to end, replayed against the running service. */
describe('real-world stories', () => {
  let t: TestApp;
  let api: ReturnType<typeof client>;
  const clock = new ManualClock();

  beforeAll(async () => {
    t = await startTestApp('stories', { clock });
    api = client(t);
  });
  afterAll(async () => {
    await t.close();
  });

  /** A query once the read models include every event appended so far (read-your-writes). */
  const read = async (url: string) => api.get(`${url}?minPosition=${await api.head()}`);

  async function refundsOf(projectId: string, accountId: string): Promise<number> {
    const events = await t.runtime.eventStore.readStream(`account-${accountId}`, { limit: 1000 });
    return events.filter((e) => e.type === 'Refunded' && e.data.projectId === projectId).length;
  }

  it('(a) a stalled worker that completes after another failed the project gets 409; one refund', async () => {
    await api.post('/v1/accounts/story-a/grants', { amount: 100, source: 'purchase' });
    await api.post('/v1/projects', { projectId: 'story-a-p', accountId: 'story-a', cost: 40 });
    const a = await api.post('/v1/projects/story-a-p/claim', { workerId: 'worker-a', leaseSeconds: 30 });
    expect(a.body.attempt).toBe(1);
    clock.advanceSeconds(31);
    const b = await api.post('/v1/projects/story-a-p/claim', { workerId: 'worker-b', leaseSeconds: 30 });
    expect(b.body.attempt).toBe(2);
    const failed = await api.post('/v1/projects/story-a-p/fail', { attempt: 2, errorMessage: 'out of memory' });
    expect(failed.body).toMatchObject({ status: 'failed', refunded: 40 });
    const head = await api.head();
    const late = await api.post('/v1/projects/story-a-p/complete', {
      attempt: 1,
      assets: { assetUrl: 'https://cdn.test/a' },
    });
    expect(late).toMatchObject({ status: 409, body: { error: { code: 'stale_attempt' } } });
    expect(await api.head()).toBe(head);
    expect((await read('/v1/projects/story-a-p')).body.status).toBe('failed');
    expect((await read('/v1/accounts/story-a')).body.balance).toBe(100);
    expect(await refundsOf('story-a-p', 'story-a')).toBe(1);
  });

  it('(b) 50 concurrent fails of one project with different keys refund exactly once', async () => {
    await api.post('/v1/accounts/story-b/grants', { amount: 100, source: 'purchase' });
    await api.post('/v1/projects', { projectId: 'story-b-p', accountId: 'story-b', cost: 60 });
    await api.post('/v1/projects/story-b-p/claim', { workerId: 'worker', leaseSeconds: 60 });
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        api.post(
          '/v1/projects/story-b-p/fail',
          { attempt: 1, errorMessage: 'provider error' },
          { idempotencyKey: `fail-${i}` },
        ),
      ),
    );
    // The first wins; the exact repeats of the same failure answer 200 without a second refund.
    expect(replies.every((r) => r.status === 200 && r.body.status === 'failed')).toBe(true);
    expect(await refundsOf('story-b-p', 'story-b')).toBe(1);
    expect((await read('/v1/accounts/story-b')).body).toMatchObject({ balance: 100, totalRefunded: 60 });
  });

  it('(c) 200 concurrent 1-credit debits on a balance of 100: exactly 100 succeed, never below zero', async () => {
    await api.post('/v1/accounts/story-c/grants', { amount: 100, source: 'purchase' });
    const replies = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        api.post('/v1/accounts/story-c/debits', { amount: 1, reason: `charge ${i}` }),
      ),
    );
    const statuses = replies.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(100);
    expect(statuses.filter((s) => s === 402)).toHaveLength(100);
    const balances = replies.filter((r) => r.status === 201).map((r) => r.body.balance as number);
    expect(Math.min(...balances)).toBe(0);
    expect(new Set(balances).size).toBe(100);
    expect((await read('/v1/accounts/story-c')).body).toMatchObject({ balance: 0, totalDebited: 100 });
  });

  it('(c) across two service instances on one database, 200 debits still stop at exactly 100', async () => {
    const other = await startTestApp('stories_b', { databaseUrl: t.runtime.databaseUrl, clock });
    try {
      await api.post('/v1/accounts/story-c2/grants', { amount: 100, source: 'purchase' });
      const apis = [api, client(other)];
      const keys = [t.keys.admin, other.keys.admin];
      const replies = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          apis[i % 2]!.post('/v1/accounts/story-c2/debits', { amount: 1, reason: `c ${i}` }, { key: keys[i % 2]! }),
        ),
      );
      const statuses = replies.map((r) => r.status);
      expect(statuses.filter((s) => s === 201)).toHaveLength(100);
      expect(statuses.filter((s) => s !== 201 && s !== 402)).toEqual([]);
      expect((await read('/v1/accounts/story-c2')).body.balance).toBe(0);
    } finally {
      await other.close();
    }
  });
});
