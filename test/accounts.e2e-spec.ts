import { client, startTestApp, type TestApp } from '@ledger/test-support';

describe('accounts over HTTP', () => {
  let t: TestApp;
  let api: ReturnType<typeof client>;
  beforeAll(async () => {
    t = await startTestApp('accounts');
    api = client(t);
  });
  afterAll(async () => {
    await t.close();
  });

  it('grants, debits and reads an account, each command answering with its position', async () => {
    const grant = await api.post('/v1/accounts/acc-1/grants', {
      amount: 500,
      source: 'purchase',
      reference: 'order-1',
    });
    expect(grant).toMatchObject({ status: 201, body: { accountId: 'acc-1', balance: 500 } });
    expect(grant.body.position).toBe(Number(await api.head()));
    const debit = await api.post('/v1/accounts/acc-1/debits', { amount: 120, reason: 'storage fee' });
    expect(debit).toMatchObject({ status: 201, body: { accountId: 'acc-1', balance: 380 } });
    expect(debit.body.position).toBeGreaterThan(grant.body.position);
    const read = await api.get(`/v1/accounts/acc-1?minPosition=${debit.body.position}`, { key: t.keys.read });
    expect(read).toMatchObject({
      status: 200,
      body: { accountId: 'acc-1', balance: 380, totalGranted: 500, totalDebited: 120, totalRefunded: 0 },
    });
    expect(typeof read.body.updatedAt).toBe('string');
    expect(read.body.position).toBeGreaterThan(grant.body.position);
    expect(read.body.position).toBeLessThan(debit.body.position);
  });

  it('refuses a debit beyond the balance with 402 and appends nothing', async () => {
    await api.post('/v1/accounts/acc-2/grants', { amount: 10, source: 'promo' });
    const head = await api.head();
    const refused = await api.post('/v1/accounts/acc-2/debits', { amount: 11, reason: 'too much' });
    expect(refused).toMatchObject({ status: 402, body: { error: { code: 'insufficient_credits' } } });
    expect(await api.head()).toBe(head);
    expect((await api.post('/v1/accounts/acc-2/debits', { amount: 10, reason: 'all of it' })).body.balance).toBe(0);
  });

  it('answers 404 for an account that never had a grant', async () => {
    expect((await api.get(`/v1/accounts/nobody?minPosition=${await api.head()}`)).status).toBe(404);
    const debit = await api.post('/v1/accounts/nobody/debits', { amount: 1, reason: 'x' });
    expect(debit).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
  });

  it('needs a key (401) with the right scope (403)', async () => {
    expect((await api.get('/v1/accounts/acc-1', { key: null })).body.error.code).toBe('unauthenticated');
    expect((await api.get('/v1/accounts/acc-1', { key: 'wrong-key-0123456789' })).status).toBe(401);
    expect((await api.get('/v1/accounts/acc-1', { key: t.keys.commands })).body.error.code).toBe('forbidden');
    const head = await api.head();
    const grant = await api.post('/v1/accounts/acc-1/grants', { amount: 1, source: 'promo' }, { key: t.keys.read });
    expect(grant).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
    expect(
      (await api.post('/v1/accounts/acc-1/grants', { amount: 1, source: 'promo' }, { key: t.keys.audit })).status,
    ).toBe(403);
    expect(await api.head()).toBe(head);
  });

  it.each([
    ['a fractional amount', { amount: 1.5, source: 'purchase' }, 'amount'],
    ['a zero amount', { amount: 0, source: 'purchase' }, 'amount'],
    ['an amount one past 10^12', { amount: 1e12 + 1, source: 'purchase' }, 'amount'],
    ['an amount as a string', { amount: '5', source: 'purchase' }, 'amount'],
    ['an unknown source', { amount: 5, source: 'gift' }, 'source'],
    ['an unknown field', { amount: 5, source: 'purchase', currency: 'EUR' }, 'currency'],
    ['an empty reference', { amount: 5, source: 'purchase', reference: '' }, 'reference'],
  ])('refuses %s with 400 naming the field, appending nothing', async (_, body, field) => {
    const head = await api.head();
    const response = await api.post('/v1/accounts/acc-3/grants', body);
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('validation_failed');
    expect(response.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
    expect(await api.head()).toBe(head);
  });

  it('accepts the largest amount, 10^12', async () => {
    const grant = await api.post('/v1/accounts/acc-max/grants', { amount: 1e12, source: 'migration' });
    expect(grant).toMatchObject({ status: 201, body: { balance: 1e12 } });
  });

  it('refuses a bad account id in the path', async () => {
    const response = await api.post('/v1/accounts/bad%20id/grants', { amount: 5, source: 'purchase' });
    expect(response).toMatchObject({ status: 400, body: { error: { code: 'validation_failed' } } });
  });

  describe('idempotency', () => {
    it('returns the first response to a repeat with the same key and body, appending nothing', async () => {
      const first = await api.post(
        '/v1/accounts/idem-1/grants',
        { amount: 50, source: 'purchase' },
        { idempotencyKey: 'k-1' },
      );
      const head = await api.head();
      const again = await api.post(
        '/v1/accounts/idem-1/grants',
        { source: 'purchase', amount: 50 },
        { idempotencyKey: 'k-1' },
      );
      expect(again).toMatchObject({ status: first.status, body: first.body });
      expect(await api.head()).toBe(head);
      expect((await api.get(`/v1/accounts/idem-1?minPosition=${first.body.position}`)).body.balance).toBe(50);
    });

    it('answers a repeat of a refused command with the same refusal, even once it would succeed', async () => {
      await api.post('/v1/accounts/idem-7/grants', { amount: 5, source: 'purchase' });
      const refused = await api.post(
        '/v1/accounts/idem-7/debits',
        { amount: 6, reason: 'x' },
        { idempotencyKey: 'k-7' },
      );
      expect(refused).toMatchObject({ status: 402, body: { error: { code: 'insufficient_credits' } } });
      await api.post('/v1/accounts/idem-7/grants', { amount: 100, source: 'purchase' });
      const head = await api.head();
      const again = await api.post('/v1/accounts/idem-7/debits', { amount: 6, reason: 'x' }, { idempotencyKey: 'k-7' });
      expect(again).toMatchObject({ status: 402, body: refused.body });
      expect(await api.head()).toBe(head);
      const reused = await api.post(
        '/v1/accounts/idem-7/debits',
        { amount: 7, reason: 'x' },
        { idempotencyKey: 'k-7' },
      );
      expect(reused.status).toBe(422);
    });

    it('refuses the same key with a different body: 422', async () => {
      await api.post('/v1/accounts/idem-2/grants', { amount: 50, source: 'purchase' }, { idempotencyKey: 'k-2' });
      const head = await api.head();
      const reused = await api.post(
        '/v1/accounts/idem-2/grants',
        { amount: 51, source: 'purchase' },
        { idempotencyKey: 'k-2' },
      );
      expect(reused).toMatchObject({ status: 422, body: { error: { code: 'idempotency_key_reused' } } });
      const otherPath = await api.post(
        '/v1/accounts/idem-3/grants',
        { amount: 50, source: 'purchase' },
        { idempotencyKey: 'k-2' },
      );
      expect(otherPath.status).toBe(422);
      expect(await api.head()).toBe(head);
    });

    it('scopes keys per API key', async () => {
      const body = { amount: 5, source: 'promo' };
      const byAdmin = await api.post('/v1/accounts/idem-4/grants', body, { idempotencyKey: 'shared' });
      const byService = await api.post('/v1/accounts/idem-4/grants', body, {
        idempotencyKey: 'shared',
        key: t.keys.commands,
      });
      expect(byService.body.position).not.toBe(byAdmin.body.position);
      expect(byService.body.balance).toBe(10);
    });

    it('charges once when the same request arrives many times at once', async () => {
      await api.post('/v1/accounts/idem-5/grants', { amount: 100, source: 'purchase' });
      const replies = await Promise.all(
        Array.from({ length: 20 }, () =>
          api.post('/v1/accounts/idem-5/debits', { amount: 7, reason: 'once' }, { idempotencyKey: 'k-5' }),
        ),
      );
      expect(new Set(replies.map((r) => JSON.stringify([r.status, r.body])))).toEqual(
        new Set([JSON.stringify([201, replies[0]!.body])]),
      );
      expect((await api.get(`/v1/accounts/idem-5?minPosition=${replies[0]!.body.position}`)).body.balance).toBe(93);
    });

    it('remembers an accepted command across a restart of the service', async () => {
      const first = await api.post(
        '/v1/accounts/idem-6/grants',
        { amount: 9, source: 'purchase' },
        { idempotencyKey: 'k-6' },
      );
      const restarted = await startTestApp('accounts_restart', { databaseUrl: t.runtime.databaseUrl });
      try {
        const again = await client(restarted).post(
          '/v1/accounts/idem-6/grants',
          { amount: 9, source: 'purchase' },
          { idempotencyKey: 'k-6', key: restarted.keys.admin },
        );
        // Another process with the same key names: the admin key's name is the same, so the key is the same scope.
        expect(again).toMatchObject({ status: 201, body: first.body });
        const account = await client(restarted).get(`/v1/accounts/idem-6?minPosition=${first.body.position}`, {
          key: restarted.keys.admin,
        });
        expect(account.body.balance).toBe(9);
      } finally {
        await restarted.close();
      }
    });
  });
});
