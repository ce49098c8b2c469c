import { client, startTestApp, type TestApp } from '@ledger/test-support';

const PROPAGATION_MS_MAX = 2_000;
const POLL_MS = 10;
// Starting a replica under a loaded suite (two or three here) takes seconds, not the default 5.
const START_TIMEOUT_MS = 60_000;

/** Polls `check` until it holds or `boundMs` passes; the time it took, or undefined. */
async function within(boundMs: number, check: () => Promise<boolean>): Promise<number | undefined> {
  const start = Date.now();
  while (Date.now() - start <= boundMs) {
    if (await check()) return Date.now() - start;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return undefined;
}

/** Two replicas of the service on one database: a key's life reaches both through the log. */
describe('keys across replicas', () => {
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    a = await startTestApp('auth_replicas');
    b = await startTestApp('auth_replicas_b', { databaseUrl: a.runtime.databaseUrl });
  }, START_TIMEOUT_MS);
  afterAll(async () => {
    await b?.close();
    await a?.close();
  }, START_TIMEOUT_MS);

  it('refuses on replica B, within 2 s, a key revoked through replica A', async () => {
    const onA = client(a);
    const onB = client(b);
    const create = await onA.post('/v1/api-keys', { name: 'dashboard', scopes: ['read'] });
    expect(create.status).toBe(201);
    const secret = create.body.secret as string;
    const status = async () => (await onB.get('/v1/projects', { key: secret })).status;
    expect(await within(PROPAGATION_MS_MAX, async () => (await status()) === 200)).toBeDefined();

    const revoke = await onA.post(`/v1/api-keys/${create.body.keyId}/revoke`, { reason: 'leaked' });
    expect(revoke.status).toBe(200);
    // Replica A refuses it as soon as the revocation is answered.
    expect((await onA.get('/v1/projects', { key: secret })).status).toBe(401);
    const tookMs = await within(PROPAGATION_MS_MAX, async () => (await status()) === 401);
    expect(tookMs).toBeDefined();
    expect(tookMs!).toBeLessThanOrEqual(PROPAGATION_MS_MAX);
    // And B lists it as revoked, for any admin of B.
    const listed = await onB.get('/v1/api-keys', { key: b.keys.admin });
    expect(listed.body.items).toContainEqual(
      expect.objectContaining({ keyId: create.body.keyId, revokedAt: revoke.body.revokedAt }),
    );
  });

  it(
    'knows, after a restart, the keys created before it, starting from the saved registry',
    async () => {
      const onA = client(a);
      const create = await onA.post('/v1/api-keys', { name: 'restart', scopes: ['read'] });
      // The registry's snapshot reaches the key's event (saved after it, off the request's path).
      const snapshot = async () =>
        (
          await a.runtime.pool.query<{ position: string; events: string }>(
            'SELECT position, events::text AS events FROM ledger_api.api_key_registry',
          )
        ).rows[0];
      const saved = async () => (await snapshot())?.events.includes(create.body.keyId as string) ?? false;
      expect(await within(PROPAGATION_MS_MAX, saved)).toBeDefined();
      expect((await snapshot())!.events).not.toContain(create.body.secret);
      const c = await startTestApp('auth_replicas_c', { databaseUrl: a.runtime.databaseUrl });
      try {
        // The start waits for the log up to its head: the key works from the first request.
        expect((await client(c).get('/v1/projects', { key: create.body.secret })).status).toBe(200);
      } finally {
        await c.close();
      }
    },
    START_TIMEOUT_MS,
  );
});
