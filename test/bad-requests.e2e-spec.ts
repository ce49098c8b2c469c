import fc from 'fast-check';
import { client, startTestApp, type TestApp } from '@ledger/test-support';

/**
 * "Bad input gets a clear 4xx and appends nothing": random bodies of every
 * shape, and valid bodies broken one field at a time, at every command.
 */
describe('bad requests of any shape', () => {
  let t: TestApp;
  let api: ReturnType<typeof client>;
  beforeAll(async () => {
    t = await startTestApp('bad_requests');
    api = client(t);
    await api.post('/v1/accounts/acc/grants', { amount: 1000, source: 'purchase' });
    await api.post('/v1/projects', { projectId: 'prj', accountId: 'acc', cost: 10 });
    await api.post('/v1/projects/prj/claim', { workerId: 'w', leaseSeconds: 600 });
  });
  afterAll(async () => {
    await t.close();
  });

  const valid: Record<string, Record<string, unknown>> = {
    '/v1/accounts/acc/grants': { amount: 5, source: 'promo', reference: 'r' },
    '/v1/accounts/acc/debits': { amount: 5, reason: 'fee' },
    '/v1/projects': { projectId: 'new-prj', accountId: 'acc', cost: 5, kind: 'k', deadlineSeconds: 60 },
    '/v1/projects/prj/claim': { workerId: 'w2', leaseSeconds: 60 },
    '/v1/projects/prj/heartbeat': { attempt: 1, leaseSeconds: 60 },
    '/v1/projects/prj/complete': { attempt: 1, creditsUsed: 5, assets: { assetUrl: 'https://cdn.test/a' } },
    '/v1/projects/prj/fail': { errorMessage: 'boom', attempt: 1, code: 'x' },
  };
  const paths = Object.keys(valid);

  // Values that no field of any command accepts in place of the one it replaces.
  const wrongValue = fc.oneof(
    fc.constant(null),
    fc.constant(-1),
    fc.constant(1.5),
    fc.constant(''),
    fc.constant('x'.repeat(5000)),
    fc.constant(1e13),
    fc.constant([]),
    fc.constant({ nested: true }),
    fc.boolean(),
  );

  async function expectRefusedWithoutAppend(path: string, body: unknown): Promise<void> {
    const head = await api.head();
    const response = await api.post(path, body);
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect(typeof response.body.error?.code).toBe('string');
    expect(await api.head()).toBe(head);
  }

  it('refuses valid bodies with one field broken, dropped or added', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...paths),
        fc.nat(),
        fc.oneof(fc.constant('break' as const), fc.constant('drop' as const), fc.constant('add' as const)),
        wrongValue,
        async (path, pick, how, value) => {
          const body = structuredClone(valid[path]!);
          const fields = Object.keys(body);
          const field = fields[pick % fields.length]!;
          if (how === 'break') body[field] = value;
          if (how === 'add') body[`unknown_${field}`] = value;
          if (how === 'drop') {
            // Optional fields may be dropped legitimately; every body above lists a required one first.
            delete body[fields[0]!];
          }
          await expectRefusedWithoutAppend(path, body);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never answers 5xx to arbitrary JSON, and appends nothing when it refuses', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...paths), fc.jsonValue({ maxDepth: 3 }), async (path, body) => {
        const head = await api.head();
        const response = await api.post(path, JSON.stringify(body));
        expect(response.status).toBeLessThan(500);
        if (response.status >= 400) expect(await api.head()).toBe(head);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a body that is JSON but not an object, even where every field is optional', async () => {
    const created = await api.post('/v1/api-keys', { name: 'to-revoke', scopes: ['debit'] });
    expect(created.status).toBe(201);
    const revoke = `/v1/api-keys/${created.body.keyId as string}/revoke`;
    for (const path of [...paths, revoke]) {
      for (const body of ['null', '[]', '"text"', '5']) {
        const head = await api.head();
        const response = await api.post(path, body);
        expect(response).toMatchObject({ status: 400, body: { error: { code: 'validation_failed' } } });
        expect(await api.head()).toBe(head);
      }
    }
  });

  it('refuses malformed JSON, a missing body and a missing Idempotency-Key', async () => {
    for (const path of paths) {
      await expectRefusedWithoutAppend(path, '{"amount": 5,');
      await expectRefusedWithoutAppend(path, undefined);
      const head = await api.head();
      const noKey = await api.post(path, valid[path], { idempotencyKey: null });
      expect(noKey).toMatchObject({ status: 400, body: { error: { code: 'validation_failed' } } });
      const longKey = await api.post(path, valid[path], { idempotencyKey: 'k'.repeat(256) });
      expect(longKey.status).toBe(400);
      expect(await api.head()).toBe(head);
    }
  });
});

describe('a store that is down', () => {
  it('answers 503 unavailable with Retry-After, never 500', async () => {
    const t = await startTestApp('store_down');
    try {
      await t.runtime.eventStore.close();
      const response = await client(t).post('/v1/accounts/acc/grants', { amount: 5, source: 'promo' });
      expect(response).toMatchObject({ status: 503, body: { error: { code: 'unavailable' } } });
      expect(response.headers['retry-after']).toBe('2');
    } finally {
      await t.app.close();
      await t.runtime.pool.end();
    }
  });
});

describe('text the store cannot keep', () => {
  it.each([
    ['U+0000 in a reason', '/v1/accounts/acc/debits', { amount: 1, reason: 'a\u0000b' }],
    [
      'a lone surrogate in a reference',
      '/v1/accounts/acc/grants',
      { amount: 1, source: 'promo', reference: '\ud800x' },
    ],
    [
      'U+0000 in a metadata key',
      '/v1/projects',
      { projectId: 'p0', accountId: 'acc', cost: 1, metadata: { 'k\u0000': 1 } },
    ],
    [
      'a lone surrogate in metadata',
      '/v1/projects',
      { projectId: 'p1', accountId: 'acc', cost: 1, metadata: { k: '\udc00' } },
    ],
    // Parsed as Infinity, which JSON keeps as null: refused rather than changed.
    [
      'a number JSON cannot hold in metadata (raw body)',
      '/v1/projects',
      '{"projectId":"p2","accountId":"acc","cost":1,"metadata":{"x":1e400}}',
    ],
  ])('refuses %s with 400, appending nothing', async (_, path, body) => {
    const t = await startTestApp('unstorable');
    try {
      const api = client(t);
      await api.post('/v1/accounts/acc/grants', { amount: 10, source: 'purchase' });
      const head = await api.head();
      const response = await api.post(path, body);
      expect(response).toMatchObject({ status: 400, body: { error: { code: 'validation_failed' } } });
      expect(await api.head()).toBe(head);
    } finally {
      await t.close();
    }
  });
});
