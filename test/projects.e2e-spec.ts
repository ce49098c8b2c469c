import { client, ManualClock, startTestApp, type TestApp } from '@ledger/test-support';

describe('projects over HTTP', () => {
  let t: TestApp;
  let api: ReturnType<typeof client>;
  const clock = new ManualClock();
  let n = 0;
  const ids = () => ({ accountId: `acc-${++n}`, projectId: `prj-${n}` });

  beforeAll(async () => {
    t = await startTestApp('projects', { clock });
    api = client(t);
  });
  afterAll(async () => {
    await t.close();
  });

  async function started(cost = 30, balance = 100) {
    const { accountId, projectId } = ids();
    await api.post(`/v1/accounts/${accountId}/grants`, { amount: balance, source: 'purchase' });
    const start = await api.post('/v1/projects', { projectId, accountId, cost, kind: 'image' });
    expect(start.status).toBe(201);
    return { accountId, projectId, start };
  }

  async function claimed(cost = 30, balance = 100) {
    const project = await started(cost, balance);
    const claim = await api.post(`/v1/projects/${project.projectId}/claim`, { workerId: 'w-1', leaseSeconds: 60 });
    expect(claim.status).toBe(200);
    return { ...project, claim };
  }

  /** A query once the read models include every event appended so far (read-your-writes). */
  const read = async (url: string) => api.get(`${url}?minPosition=${await api.head()}`);
  const balanceOf = async (accountId: string) => (await read(`/v1/accounts/${accountId}`)).body.balance;

  it('starts a project: debit and start in one step', async () => {
    const { accountId, projectId, start } = await started(30, 100);
    expect(start.body).toMatchObject({ projectId, status: 'pending', balance: 70 });
    expect(start.body.position).toBe(Number(await api.head()));
    expect((await api.get(`/v1/projects/${projectId}?minPosition=${start.body.position}`)).body).toMatchObject({
      projectId,
      accountId,
      status: 'pending',
      cost: 30,
      refunded: 0,
      attempt: 0,
    });
  });

  it('refuses a start without the credits (402), appending nothing', async () => {
    const { accountId, projectId } = ids();
    await api.post(`/v1/accounts/${accountId}/grants`, { amount: 29, source: 'purchase' });
    const head = await api.head();
    const start = await api.post('/v1/projects', { projectId, accountId, cost: 30 });
    expect(start).toMatchObject({ status: 402, body: { error: { code: 'insufficient_credits' } } });
    expect(await api.head()).toBe(head);
    expect((await read(`/v1/projects/${projectId}`)).status).toBe(404);
  });

  it('refuses a second start of a project id with another body (409 already_exists)', async () => {
    const { accountId, projectId } = await started(30, 100);
    const again = await api.post('/v1/projects', { projectId, accountId, cost: 31 });
    expect(again).toMatchObject({ status: 409, body: { error: { code: 'already_exists' } } });
    expect(await balanceOf(accountId)).toBe(70);
  });

  it('claims, heartbeats and completes with assets, refunding unused credits', async () => {
    const { accountId, projectId, claim } = await claimed(30, 100);
    expect(claim.body).toMatchObject({ projectId, status: 'processing', attempt: 1 });
    clock.advanceSeconds(30);
    const heartbeat = await api.post(`/v1/projects/${projectId}/heartbeat`, { attempt: 1, leaseSeconds: 120 });
    expect(heartbeat.body).toMatchObject({
      attempt: 1,
      leaseExpiresAt: new Date(clock.now().getTime() + 120_000).toISOString(),
    });
    const assets = {
      assetUrl: 'https://cdn.test/a.mp4',
      previewUrl: 'https://cdn.test/p.jpg',
      resultUrls: ['https://cdn.test/1'],
    };
    const complete = await api.post(`/v1/projects/${projectId}/complete`, { attempt: 1, creditsUsed: 25, assets });
    expect(complete.body).toMatchObject({ status: 'completed', refunded: 5 });
    expect(await balanceOf(accountId)).toBe(75);
    expect((await read(`/v1/projects/${projectId}`)).body).toMatchObject({
      status: 'completed',
      creditsUsed: 25,
      refunded: 5,
      assets,
    });
  });

  it('completes without creditsUsed as using the whole cost', async () => {
    const { accountId, projectId } = await claimed(30, 100);
    expect((await api.post(`/v1/projects/${projectId}/complete`, { attempt: 1 })).body).toMatchObject({ refunded: 0 });
    expect(await balanceOf(accountId)).toBe(70);
  });

  it('refuses creditsUsed above the cost (400) and asset URLs that are not http(s)', async () => {
    const { projectId } = await claimed(30, 100);
    const head = await api.post(`/v1/projects/${projectId}/complete`, { attempt: 1, creditsUsed: 31 });
    expect(head).toMatchObject({ status: 400, body: { error: { code: 'validation_failed' } } });
    const ftp = await api.post(`/v1/projects/${projectId}/complete`, {
      attempt: 1,
      assets: { assetUrl: 'ftp://x.test/a' },
    });
    expect(ftp.status).toBe(400);
    expect(ftp.body.error.details[0].field).toBe('assets.assetUrl');
    expect((await read(`/v1/projects/${projectId}`)).body.status).toBe('processing');
  });

  it('fails with a refund of the whole cost, once', async () => {
    const { accountId, projectId } = await claimed(30, 100);
    const fail = await api.post(`/v1/projects/${projectId}/fail`, {
      attempt: 1,
      errorMessage: 'GPU fell over',
      code: 'gpu_error',
    });
    expect(fail.body).toMatchObject({ status: 'failed', refunded: 30 });
    expect(await balanceOf(accountId)).toBe(100);
    const again = await api.post(`/v1/projects/${projectId}/fail`, {
      attempt: 1,
      errorMessage: 'GPU fell over',
      code: 'gpu_error',
    });
    expect(again.status).toBe(200);
    expect(await balanceOf(accountId)).toBe(100);
    expect((await read(`/v1/projects/${projectId}`)).body).toMatchObject({
      status: 'failed',
      errorMessage: 'GPU fell over',
    });
  });

  it('lets the owner cancel a pending project (fail without attempt)', async () => {
    const { accountId, projectId } = await started(30, 100);
    const cancel = await api.post(`/v1/projects/${projectId}/fail`, { errorMessage: 'user cancelled' });
    expect(cancel.body).toMatchObject({ status: 'failed', refunded: 30 });
    expect(await balanceOf(accountId)).toBe(100);
  });

  it('refuses a second claim while the lease is live (409 lease_held), then hands out attempt 2 after expiry', async () => {
    const { projectId } = await claimed(30, 100);
    const held = await api.post(`/v1/projects/${projectId}/claim`, { workerId: 'w-2', leaseSeconds: 60 });
    expect(held).toMatchObject({ status: 409, body: { error: { code: 'lease_held' } } });
    clock.advanceSeconds(61);
    const second = await api.post(`/v1/projects/${projectId}/claim`, { workerId: 'w-2', leaseSeconds: 60 });
    expect(second.body).toMatchObject({ status: 'processing', attempt: 2 });
    const stale = await api.post(`/v1/projects/${projectId}/heartbeat`, { attempt: 1, leaseSeconds: 60 });
    expect(stale).toMatchObject({ status: 409, body: { error: { code: 'stale_attempt' } } });
  });

  it('refuses commands after a terminal state (409 invalid_transition), checking the attempt first', async () => {
    const { projectId } = await claimed(30, 100);
    await api.post(`/v1/projects/${projectId}/complete`, { attempt: 1 });
    const head = await api.head();
    const fail = await api.post(`/v1/projects/${projectId}/fail`, { attempt: 1, errorMessage: 'late' });
    expect(fail.body.error.code).toBe('invalid_transition');
    const claim = await api.post(`/v1/projects/${projectId}/claim`, { workerId: 'w-9', leaseSeconds: 60 });
    expect(claim.body.error.code).toBe('invalid_transition');
    const stale = await api.post(`/v1/projects/${projectId}/complete`, { attempt: 7 });
    expect(stale.body.error.code).toBe('stale_attempt');
    expect(await api.head()).toBe(head);
  });

  it('answers 404 for commands on an unknown project and for an unknown account at start', async () => {
    expect((await api.post('/v1/projects/nope/claim', { workerId: 'w', leaseSeconds: 5 })).status).toBe(404);
    expect((await read('/v1/projects/nope')).status).toBe(404);
    const start = await api.post('/v1/projects', { projectId: 'orphan', accountId: 'no-account', cost: 1 });
    expect(start.body.error.code).toBe('not_found');
  });

  it('refuses invalid project bodies with 400, appending nothing', async () => {
    const { projectId } = await started(30, 100);
    const head = await api.head();
    const bad = [
      api.post('/v1/projects', { projectId: 'has space', accountId: 'a', cost: 1 }),
      api.post('/v1/projects', { projectId: 'p', accountId: 'a', cost: -1 }),
      api.post('/v1/projects', { projectId: 'p', accountId: 'a', cost: 1, deadlineSeconds: 0 }),
      api.post(`/v1/projects/${projectId}/claim`, { workerId: 'w', leaseSeconds: 0 }),
      api.post(`/v1/projects/${projectId}/claim`, { workerId: 'w' }),
      api.post(`/v1/projects/${projectId}/heartbeat`, { attempt: 0, leaseSeconds: 5 }),
      api.post(`/v1/projects/${projectId}/fail`, { attempt: 1 }),
      api.post(`/v1/projects/${projectId}/fail`, { errorMessage: 'x', code: 'has space' }),
      api.post(`/v1/projects/${projectId}/complete`, { attempt: 1, assets: { resultUrls: 'https://x.test' } }),
    ];
    for (const response of await Promise.all(bad)) {
      expect(response).toMatchObject({ status: 400, body: { error: { code: 'validation_failed' } } });
    }
    expect(await api.head()).toBe(head);
  });
});
