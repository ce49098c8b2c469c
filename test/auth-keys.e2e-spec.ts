import { Writable } from 'node:stream';
import { client, startTestApp, type TestApp } from '@ledger/test-support';

/** Each caller does only its own job, and a secret is shown once and kept nowhere. */
describe('keys that fit the caller', () => {
  let t: TestApp;
  let api: ReturnType<typeof client>;
  const logged: string[] = [];
  let n = 0;
  const ids = () => ({ accountId: `acc-${++n}`, projectId: `prj-${n}` });

  beforeAll(async () => {
    const logStream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logged.push(chunk.toString('utf8'));
        done();
      },
    });
    t = await startTestApp('auth_keys', { logStream, requestLogging: true });
    api = client(t);
  });
  afterAll(async () => {
    await t.close();
  });

  async function pending() {
    const { accountId, projectId } = ids();
    expect((await api.post(`/v1/accounts/${accountId}/grants`, { amount: 100, source: 'purchase' })).status).toBe(201);
    expect((await api.post('/v1/projects', { projectId, accountId, cost: 10 })).status).toBe(201);
    return { accountId, projectId };
  }

  async function refused(url: string, body: unknown, key: string) {
    const head = await api.head();
    const reply = await api.post(url, body, { key });
    expect({ url, status: reply.status, code: reply.body.error?.code }).toEqual({
      url,
      status: 403,
      code: 'forbidden',
    });
    expect(await api.head()).toBe(head);
  }

  it('lets a worker key (work) claim and finish, but not grant, debit, start or cancel', async () => {
    const { accountId, projectId } = await pending();
    const worker = t.keys.work;
    await refused(`/v1/accounts/${accountId}/grants`, { amount: 1_000_000, source: 'promo' }, worker);
    await refused(`/v1/accounts/${accountId}/debits`, { amount: 1, reason: 'fee' }, worker);
    await refused('/v1/projects', { projectId: `${projectId}-b`, accountId, cost: 1 }, worker);
    await refused(`/v1/projects/${projectId}/fail`, { errorMessage: 'cancelled' }, worker);
    const claim = await api.post(
      `/v1/projects/${projectId}/claim`,
      { workerId: 'w-1', leaseSeconds: 60 },
      { key: worker },
    );
    expect(claim.status).toBe(200);
    const fail = await api.post(
      `/v1/projects/${projectId}/fail`,
      { attempt: claim.body.attempt, errorMessage: 'provider timed out' },
      { key: worker },
    );
    expect(fail).toMatchObject({ status: 200, body: { status: 'failed', refunded: 10 } });
  });

  it('lets an app key (start) start and cancel, but not grant or claim', async () => {
    const { accountId, projectId } = await pending();
    const app = t.keys.start;
    await refused(`/v1/accounts/${accountId}/grants`, { amount: 5, source: 'purchase' }, app);
    await refused(`/v1/projects/${projectId}/claim`, { workerId: 'w-1', leaseSeconds: 60 }, app);
    // Failing a worker's attempt is the worker's: an app key that names an attempt is refused.
    await refused(`/v1/projects/${projectId}/fail`, { attempt: 1, errorMessage: 'x' }, app);
    const other = `${projectId}-b`;
    expect((await api.post('/v1/projects', { projectId: other, accountId, cost: 5 }, { key: app })).status).toBe(201);
    const cancel = await api.post(`/v1/projects/${other}/fail`, { errorMessage: 'user cancelled' }, { key: app });
    expect(cancel).toMatchObject({ status: 200, body: { status: 'failed', refunded: 5 } });
  });

  it('lets a billing key (grant) grant, but not start or claim', async () => {
    const { accountId, projectId } = await pending();
    const billing = t.keys.grant;
    expect(
      (await api.post(`/v1/accounts/${accountId}/grants`, { amount: 5, source: 'purchase' }, { key: billing })).status,
    ).toBe(201);
    await refused('/v1/projects', { projectId: `${projectId}-b`, accountId, cost: 1 }, billing);
    await refused(`/v1/projects/${projectId}/claim`, { workerId: 'w-1', leaseSeconds: 60 }, billing);
  });

  it('creates a key whose secret is shown once, lists it without one, and revokes it', async () => {
    const create = await api.post('/v1/api-keys', { name: 'billing', scopes: ['grant', 'read'], ratePerSecond: 50 });
    expect(create).toMatchObject({
      status: 201,
      body: { name: 'billing', scopes: ['grant', 'read'], ratePerSecond: 50, expiresAt: null },
    });
    const { keyId, secret } = create.body as { keyId: string; secret: string };
    expect(secret).toMatch(/^ldg_[A-Za-z0-9_-]{43}$/);
    expect(
      (await api.post(`/v1/accounts/acc-k/grants`, { amount: 5, source: 'purchase' }, { key: secret })).status,
    ).toBe(201);
    const list = await api.get('/v1/api-keys');
    expect(list.status).toBe(200);
    expect(list.body.items).toContainEqual(
      expect.objectContaining({ keyId, name: 'billing', source: 'api', revokedAt: null }),
    );
    expect(list.body.items).toContainEqual(
      expect.objectContaining({ keyId: 'config:test-admin', source: 'config', scopes: ['admin'], ratePerSecond: 500 }),
    );
    const configRevoke = await api.post('/v1/api-keys/config:test-admin/revoke', {});
    expect(configRevoke).toMatchObject({ status: 409, body: { error: { code: 'invalid_transition' } } });
    expect(configRevoke.body.error.message).toContain('LEDGER_API_KEYS');
    expect((await api.post('/v1/api-keys/key_nobody/revoke', {})).status).toBe(404);

    const revoke = await api.post(`/v1/api-keys/${keyId}/revoke`, { reason: 'rotated' }, { idempotencyKey: 'rv-1' });
    expect(revoke).toMatchObject({ status: 200, body: { keyId } });
    expect(typeof revoke.body.revokedAt).toBe('string');
    // The same key again replays; another revocation of a revoked key is a conflict.
    expect(
      (await api.post(`/v1/api-keys/${keyId}/revoke`, { reason: 'rotated' }, { idempotencyKey: 'rv-1' })).body,
    ).toEqual(revoke.body);
    expect((await api.post(`/v1/api-keys/${keyId}/revoke`, {})).body.error.code).toBe('invalid_transition');
    const head = await api.head();
    const after = await api.post(`/v1/accounts/acc-k/grants`, { amount: 5, source: 'purchase' }, { key: secret });
    expect(after).toMatchObject({ status: 401, body: { error: { code: 'unauthenticated' } } });
    expect(await api.head()).toBe(head);
  });

  it('answers a repeated create without the secret, and refuses bad input with 400', async () => {
    const first = await api.post('/v1/api-keys', { name: 'app', scopes: ['start'] }, { idempotencyKey: 'ck-1' });
    const again = await api.post('/v1/api-keys', { name: 'app', scopes: ['start'] }, { idempotencyKey: 'ck-1' });
    expect(again.status).toBe(201);
    expect(again.body.keyId).toBe(first.body.keyId);
    expect(again.body).not.toHaveProperty('secret');
    const head = await api.head();
    for (const body of [
      { name: 'a:b', scopes: ['read'] },
      { name: 'x', scopes: [] },
      { name: 'x', scopes: ['root'] },
      { name: 'x', scopes: ['read'], ratePerSecond: 0 },
      { name: 'x', scopes: ['read'], expiresAt: '2001-01-01T00:00:00Z' },
      { name: 'x', scopes: ['read'], expiresAt: 'tomorrow' },
    ]) {
      const reply = await api.post('/v1/api-keys', body);
      expect({ body, status: reply.status, code: reply.body.error?.code }).toEqual({
        body,
        status: 400,
        code: 'validation_failed',
      });
    }
    expect(await api.head()).toBe(head);
  });

  it('leaves the read models and the audit undisturbed by key events (projections skip them)', async () => {
    expect((await api.post('/v1/api-keys', { name: 'audited', scopes: ['audit'] })).status).toBe(201);
    const report = await api.get(`/v1/audit/reconciliation?minPosition=${await api.head()}&waitMs=10000`, {
      key: t.keys.audit,
    });
    expect(report).toMatchObject({ status: 200, body: { mismatches: [], violations: [] } });
    const log = await api.get('/v1/audit/events?limit=500', { key: t.keys.audit });
    expect(log.body.items.map((e: { type: string }) => e.type)).toContain('ApiKeyCreated');
  });

  it('never lets a secret reach the logs, the list or the store, and counts refusals by reason', async () => {
    const metric = async (reason: string) => {
      const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
      const line = text.split('\n').find((l) => l.startsWith(`ledger_auth_refusals_total{reason="${reason}"}`));
      return line ? Number(line.split(' ').at(-1)) : 0;
    };
    const before = { forbidden: await metric('forbidden'), revoked: await metric('revoked') };
    const create = await api.post('/v1/api-keys', { name: 'leaky', scopes: ['read'] });
    const secret = create.body.secret as string;
    expect((await api.get('/v1/projects', { key: secret })).status).toBe(200);
    expect((await api.post('/v1/accounts/acc-l/grants', { amount: 1, source: 'promo' }, { key: secret })).status).toBe(
      403,
    );
    await api.post(`/v1/api-keys/${create.body.keyId}/revoke`, {});
    expect((await api.get('/v1/projects', { key: secret })).status).toBe(401);
    const unknown = 'ldg_never-issued-0123456789abcdefghij';
    expect((await api.get('/v1/projects', { key: unknown })).status).toBe(401);
    expect(await metric('forbidden')).toBe(before.forbidden + 1);
    expect(await metric('revoked')).toBe(before.revoked + 1);

    const secrets = [secret, unknown, ...Object.values(t.keys)];
    const log = logged.join('');
    // The refusals are logged, by the key's name.
    expect(log).toMatch(/"reason":"forbidden","key":"leaky"/);
    expect(log).toMatch(/"reason":"revoked","key":"leaky"/);
    expect(log).toMatch(/"reason":"unauthenticated","fingerprint":"[0-9a-f]{8}"/);
    for (const s of secrets) expect(log.includes(s)).toBe(false);
    const list = JSON.stringify((await api.get('/v1/api-keys?limit=500')).body);
    for (const s of secrets) expect(list.includes(s)).toBe(false);
    expect(list).not.toContain('digest');
    const { rows } = await t.runtime.pool.query<{ text: string }>(
      "SELECT string_agg(e::text, E'\\n') AS text FROM event_store.events e",
    );
    const stored = rows[0]!.text;
    expect(stored).toContain('ApiKeyCreated');
    for (const s of secrets) expect(stored.includes(s)).toBe(false);
  });
});
