import {
  client,
  ManualClock,
  providerSignature,
  startTestApp,
  within,
  type Reply,
  type TestApp,
} from '@ledger/test-support';

// The bound on a kept delivery's application after its project's start (the 2 s).
const APPLIED_MS_MAX = 2_000;

/** Failure 5 of DESIGN.md: a provider's result must reach its project, once, and only when signed. */
describe('provider webhooks over HTTP', () => {
  const SECRET = 'whsec_first_0123456789';
  const ROTATED = 'whsec_second_0123456789';
  const PROVIDER = 'genai';
  const COST = 30;
  const clock = new ManualClock();
  let t: TestApp;
  let api: ReturnType<typeof client>;
  let n = 0;

  beforeAll(async () => {
    t = await startTestApp('webhooks', {
      clock,
      env: { LEDGER_WEBHOOK_SECRETS: `${PROVIDER}:${SECRET};${PROVIDER}:${ROTATED};other:whsec_other_0123456789` },
    });
    api = client(t);
  });
  afterAll(async () => {
    await t.close();
  });

  const nowSeconds = () => Math.floor(clock.now().getTime() / 1000);

  /** The header a provider sends, computed independently of the service (test/support). */
  function signature(rawBody: string, options: { secret?: string; at?: number } = {}): string {
    return providerSignature(options.secret ?? SECRET, rawBody, options.at ?? nowSeconds());
  }

  /** Sends `rawBody` byte for byte; `header: null` sends none. */
  async function deliver(rawBody: string, options: { header?: string | null; provider?: string } = {}): Promise<Reply> {
    const header = options.header === undefined ? signature(rawBody) : options.header;
    const response = await t.app.inject({
      method: 'POST',
      url: `/v1/webhooks/${options.provider ?? PROVIDER}`,
      payload: rawBody,
      headers: { 'content-type': 'application/json', ...(header === null ? {} : { 'x-signature': header }) },
    });
    return { status: response.statusCode, body: response.json(), headers: response.headers };
  }

  const read = async (url: string, key = t.keys.read) =>
    api.get(`${url}${url.includes('?') ? '&' : '?'}minPosition=${await api.head()}`, { key });

  /** A paid project (cost 30 of 100) waiting on the provider's task, claimed by a worker unless told otherwise. */
  async function projectOnTask(options: { claimed?: boolean } = {}) {
    const id = ++n;
    const accountId = `acc-${id}`;
    const projectId = `prj-${id}`;
    const taskId = `task-${id}`;
    await api.post(`/v1/accounts/${accountId}/grants`, { amount: 100, source: 'purchase' });
    const start = await api.post('/v1/projects', { projectId, accountId, cost: COST, externalTaskId: taskId });
    expect(start.status).toBe(201);
    if (options.claimed ?? true) {
      const claim = await api.post(`/v1/projects/${projectId}/claim`, { workerId: 'w-1', leaseSeconds: 600 });
      expect(claim.status).toBe(200);
    }
    return { accountId, projectId, taskId };
  }

  const assets = { assetUrl: 'https://cdn.test/a.mp4', previewUrl: 'https://cdn.test/p.jpg' };

  it("completes the task's project with the provider's assets: current attempt, whole cost used", async () => {
    const { accountId, projectId, taskId } = await projectOnTask();
    // Spacing and key order as the provider wrote them: the signature covers these bytes, not a re-serialisation.
    const rawBody = `{ "status":"succeeded",\n  "assets": {"previewUrl": "${assets.previewUrl}", "assetUrl":"${assets.assetUrl}"}, "taskId": "${taskId}" }`;
    const delivered = await deliver(rawBody);
    expect(delivered.status).toBe(200);
    expect(delivered.body).toEqual({
      projectId,
      status: 'completed',
      refunded: 0,
      assets,
      position: expect.any(Number),
    });
    expect(delivered.body.position).toBe(Number(await api.head()));
    expect((await read(`/v1/projects/${projectId}`)).body).toMatchObject({
      status: 'completed',
      attempt: 1,
      creditsUsed: COST,
      refunded: 0,
      assets: { ...assets, thumbnailUrl: null, resultUrls: null },
    });
    expect((await read(`/v1/accounts/${accountId}`)).body.balance).toBe(100 - COST);
  });

  it('answers a replayed delivery as the first time and appends nothing, even signed anew later', async () => {
    const { projectId, taskId } = await projectOnTask();
    const rawBody = JSON.stringify({ taskId, status: 'succeeded', assets });
    const first = await deliver(rawBody);
    expect(first.body).toMatchObject({ projectId, status: 'completed' });
    const head = await api.head();
    clock.advanceSeconds(200);
    const again = await deliver(rawBody);
    expect(again).toMatchObject({ status: first.status, body: first.body });
    expect(await api.head()).toBe(head);
  });

  it('takes the delivery id, when the provider sends one, as what identifies the delivery', async () => {
    const { projectId, taskId } = await projectOnTask();
    const first = await deliver(JSON.stringify({ deliveryId: `d-${taskId}`, taskId, status: 'succeeded' }));
    expect(first.body).toMatchObject({ projectId, status: 'completed', assets: null });
    const head = await api.head();
    const reformatted = await deliver(`{"status": "succeeded", "taskId": "${taskId}", "deliveryId": "d-${taskId}"}`);
    expect(reformatted).toMatchObject({ status: 200, body: first.body });
    expect(await api.head()).toBe(head);
  });

  describe('refuses an unauthentic delivery with 401, appending nothing', () => {
    const cases: [string, (rawBody: string) => { rawBody: string; header?: string | null; provider?: string }][] = [
      [
        'a body altered by one byte',
        (rawBody) => ({ rawBody: rawBody.replace('succeeded', 'succeedec'), header: signature(rawBody) }),
      ],
      ['a timestamp 301 s old', (rawBody) => ({ rawBody, header: signature(rawBody, { at: nowSeconds() - 301 }) })],
      ['a timestamp 301 s ahead', (rawBody) => ({ rawBody, header: signature(rawBody, { at: nowSeconds() + 301 }) })],
      [
        'a secret that is not the provider’s',
        (rawBody) => ({ rawBody, header: signature(rawBody, { secret: 'whsec_other_0123456789' }) }),
      ],
      ['no signature', (rawBody) => ({ rawBody, header: null })],
      ['a malformed signature', (rawBody) => ({ rawBody, header: `t=${nowSeconds()}` })],
      ['an unknown provider', (rawBody) => ({ rawBody, provider: 'nobody' })],
    ];

    it.each(cases)('%s', async (_, make) => {
      const { projectId, taskId } = await projectOnTask();
      const { rawBody, ...options } = make(JSON.stringify({ taskId, status: 'succeeded', assets }));
      const head = await api.head();
      const refused = await deliver(rawBody, options);
      expect(refused).toMatchObject({ status: 401, body: { error: { code: 'unauthenticated' } } });
      expect(await api.head()).toBe(head);
      expect((await read(`/v1/projects/${projectId}`)).body.status).toBe('processing');
    });

    it('accepts the same deliveries signed right, up to 300 s away either way', async () => {
      for (const skew of [-300, 300]) {
        const { projectId, taskId } = await projectOnTask();
        const rawBody = JSON.stringify({ taskId, status: 'succeeded' });
        const delivered = await deliver(rawBody, { header: signature(rawBody, { at: nowSeconds() + skew }) });
        expect(delivered.body).toMatchObject({ projectId, status: 'completed' });
      }
    });
  });

  it('accepts the second secret of a provider rotating its secrets', async () => {
    const { projectId, taskId } = await projectOnTask();
    const rawBody = JSON.stringify({ taskId, status: 'succeeded', assets });
    const delivered = await deliver(rawBody, { header: signature(rawBody, { secret: ROTATED }) });
    expect(delivered).toMatchObject({ status: 200, body: { projectId, status: 'completed' } });
  });

  it("fails the project with the provider's error and refunds it once, whatever is delivered again", async () => {
    const { accountId, projectId, taskId } = await projectOnTask();
    const rawBody = JSON.stringify({ taskId, status: 'failed', error: 'content policy violation' });
    const failed = await deliver(rawBody);
    expect(failed).toMatchObject({
      status: 200,
      body: { projectId, status: 'failed', refunded: COST, assets: null },
    });
    expect(await deliver(rawBody)).toMatchObject({ status: 200, body: failed.body });
    const other = await deliver(JSON.stringify({ taskId, status: 'failed', error: 'retried and failed again' }));
    expect(other).toMatchObject({ status: 200, body: { status: 'failed', refunded: COST } });
    expect((await read(`/v1/projects/${projectId}`)).body).toMatchObject({
      status: 'failed',
      errorCode: 'provider_failed',
      errorMessage: 'content policy violation',
      refunded: COST,
    });
    expect((await read(`/v1/accounts/${accountId}`)).body.balance).toBe(100);
    const ledger = await read(`/v1/accounts/${accountId}/ledger`);
    expect(ledger.body.items.filter((e: { type: string }) => e.type === 'Refunded')).toHaveLength(1);
  });

  it('refuses a success that contradicts how the project ended (409), and keeps that answer', async () => {
    const { projectId, taskId } = await projectOnTask();
    await deliver(JSON.stringify({ taskId, status: 'failed' }));
    const rawBody = JSON.stringify({ taskId, status: 'succeeded', assets });
    const refused = await deliver(rawBody);
    expect(refused).toMatchObject({ status: 409, body: { error: { code: 'invalid_transition' } } });
    expect(await deliver(rawBody)).toMatchObject({ status: 409, body: refused.body });
    expect((await read(`/v1/projects/${projectId}`)).body.status).toBe('failed');
  });

  describe('the provider is the worker of record: a project nobody claimed', () => {
    it('is completed by a signed success: assets shown, cost charged, no refund; a worker after it gets 409', async () => {
      const { accountId, projectId, taskId } = await projectOnTask({ claimed: false });
      const delivered = await deliver(JSON.stringify({ taskId, status: 'succeeded', assets }));
      expect(delivered).toMatchObject({
        status: 200,
        body: { projectId, status: 'completed', refunded: 0, assets },
      });
      expect((await read(`/v1/projects/${projectId}`)).body).toMatchObject({
        status: 'completed',
        attempt: 0,
        workerId: null,
        creditsUsed: COST,
        refunded: 0,
        assets: { ...assets, thumbnailUrl: null, resultUrls: null },
      });
      expect((await read(`/v1/accounts/${accountId}`)).body).toMatchObject({
        balance: 100 - COST,
        totalDebited: COST,
        totalRefunded: 0,
      });
      const head = await api.head();
      const work = { key: t.keys.work };
      expect(
        await api.post(`/v1/projects/${projectId}/claim`, { workerId: 'late', leaseSeconds: 60 }, work),
      ).toMatchObject({ status: 409, body: { error: { code: 'invalid_transition' } } });
      expect(await api.post(`/v1/projects/${projectId}/complete`, { attempt: 1, assets }, work)).toMatchObject({
        status: 409,
        body: { error: { code: 'stale_attempt' } },
      });
      expect(
        await api.post(`/v1/projects/${projectId}/fail`, { attempt: 1, errorMessage: 'late' }, work),
      ).toMatchObject({ status: 409, body: { error: { code: 'stale_attempt' } } });
      expect(await api.head()).toBe(head);
      const stream = await api.get(`/v1/audit/streams/project-${projectId}`, { key: t.keys.audit });
      expect(stream.body.items.map((e: { type: string }) => e.type)).toEqual(['ProjectStarted', 'ProjectCompleted']);
      expect(stream.body.items[1].data).toEqual({ attempt: 0, creditsUsed: COST, assets });
    });

    it('is failed by a signed failure, refunded once; a worker after it gets 409', async () => {
      const { accountId, projectId, taskId } = await projectOnTask({ claimed: false });
      const rawBody = JSON.stringify({ taskId, status: 'failed', error: 'the model refused the prompt' });
      const failed = await deliver(rawBody);
      expect(failed).toMatchObject({ status: 200, body: { projectId, status: 'failed', refunded: COST } });
      expect(await deliver(rawBody)).toMatchObject({ status: 200, body: failed.body });
      expect(await deliver(JSON.stringify({ taskId, status: 'failed' }))).toMatchObject({ status: 200 });
      const late = await api.post(`/v1/projects/${projectId}/complete`, { attempt: 1 }, { key: t.keys.work });
      expect(late).toMatchObject({ status: 409, body: { error: { code: 'stale_attempt' } } });
      expect((await read(`/v1/projects/${projectId}`)).body).toMatchObject({
        status: 'failed',
        errorCode: 'provider_failed',
        errorMessage: 'the model refused the prompt',
        refunded: COST,
      });
      expect((await read(`/v1/accounts/${accountId}`)).body).toMatchObject({ balance: 100, totalRefunded: COST });
      const ledger = await read(`/v1/accounts/${accountId}/ledger`);
      expect(ledger.body.items.filter((e: { type: string }) => e.type === 'Refunded')).toHaveLength(1);
    });
  });

  it('refuses a signed delivery with a bad body (400), appending nothing, and ignores fields it does not know', async () => {
    const { projectId, taskId } = await projectOnTask();
    const head = await api.head();
    const bad = [
      JSON.stringify({ taskId, status: 'done' }),
      JSON.stringify({ status: 'succeeded' }),
      JSON.stringify({ taskId, status: 'succeeded', assets: { assetUrl: 'ftp://cdn.test/a' } }),
      JSON.stringify({ taskId: 'nul\u0000', status: 'failed' }),
    ];
    for (const rawBody of bad) {
      expect(await deliver(rawBody)).toMatchObject({ status: 400, body: { error: { code: 'validation_failed' } } });
    }
    expect(await api.head()).toBe(head);
    const extra = JSON.stringify({ taskId, status: 'succeeded', attempt: 7, assets: { ...assets, durationMs: 5 } });
    expect(await deliver(extra)).toMatchObject({ status: 200, body: { projectId, status: 'completed', assets } });
  });

  it('keeps a delivery for an unknown task (202), lists it as kept, and applies it when the project starts', async () => {
    const taskId = `task-late-${++n}`;
    const rawBody = JSON.stringify({ taskId, status: 'succeeded', assets });
    const head = await api.head();
    const early = await deliver(rawBody);
    expect(early).toMatchObject({ status: 202, body: { provider: PROVIDER, taskId, matched: false } });
    expect(await deliver(rawBody)).toMatchObject({ status: 202 });
    expect(await api.head()).toBe(head);

    const listed = async (query = '') =>
      (await api.get(`/v1/webhooks/unmatched${query}`, { key: t.keys.audit })).body.items.filter(
        (item: { taskId: string }) => item.taskId === taskId,
      );
    expect(await listed()).toEqual([
      {
        id: expect.any(Number),
        provider: PROVIDER,
        taskId,
        body: { taskId, status: 'succeeded', assets },
        deliveries: 2,
        receivedAt: clock.now().toISOString(),
        lastReceivedAt: clock.now().toISOString(),
        status: 'kept',
        projectId: null,
        appliedStatus: null,
        position: null,
        appliedAt: null,
        expiredAt: null,
      },
    ]);
    expect((await api.get('/v1/webhooks/unmatched', { key: t.keys.read })).status).toBe(403);
    expect((await api.get('/v1/webhooks/unmatched', { key: null })).status).toBe(401);
    expect((await api.get('/v1/webhooks/unmatched?status=matched', { key: t.keys.audit })).status).toBe(400);

    const accountId = `acc-late-${n}`;
    const projectId = `prj-late-${n}`;
    await api.post(`/v1/accounts/${accountId}/grants`, { amount: 100, source: 'purchase' });
    const start = await api.post('/v1/projects', { projectId, accountId, cost: COST, externalTaskId: taskId });
    expect(start).toMatchObject({ status: 201, body: { projectId, status: 'pending', balance: 100 - COST } });
    const applied = async () => (await listed('?status=applied'))[0] as { position: number } | undefined;
    expect(await within(APPLIED_MS_MAX, async () => (await applied()) !== undefined)).toBeDefined();
    expect(await applied()).toMatchObject({ status: 'applied', projectId, appliedStatus: 200 });
    expect(await listed()).toEqual([]);
    // Read-your-writes on the application's position.
    const project = await api.get(`/v1/projects/${projectId}?minPosition=${(await applied())!.position}`, {
      key: t.keys.read,
    });
    expect(project.body).toMatchObject({ status: 'completed', attempt: 0, assets });
    // The provider's repeat now replays the application's answer, appending nothing.
    const after = await api.head();
    expect(await deliver(rawBody)).toMatchObject({
      status: 200,
      body: { projectId, status: 'completed', refunded: 0, assets, position: (await applied())!.position },
    });
    expect(await api.head()).toBe(after);
  });

  it('pages the unmatched deliveries newest first with a cursor', async () => {
    const tasks = [1, 2, 3].map((i) => `task-page-${++n}-${i}`);
    for (const taskId of tasks) await deliver(JSON.stringify({ taskId, status: 'failed' }));
    const first = await api.get('/v1/webhooks/unmatched?limit=2', { key: t.keys.audit });
    expect(first.body.items.map((item: { taskId: string }) => item.taskId)).toEqual([tasks[2], tasks[1]]);
    const second = await api.get(`/v1/webhooks/unmatched?limit=2&cursor=${first.body.nextCursor}`, {
      key: t.keys.audit,
    });
    expect(second.body.items[0].taskId).toBe(tasks[0]);
    expect((await api.get('/v1/webhooks/unmatched?limit=0', { key: t.keys.audit })).status).toBe(400);
  });

  describe('a project completed without its result', () => {
    const missing = async () =>
      (await read('/v1/projects?status=completed&missingAssets=true&limit=500')).body.items.map(
        (p: { projectId: string }) => p.projectId,
      );

    async function completedBare() {
      const project = await projectOnTask();
      const complete = await api.post(`/v1/projects/${project.projectId}/complete`, { attempt: 1 });
      expect(complete.status).toBe(200);
      expect(await missing()).toContain(project.projectId);
      return project;
    }

    it('gets the assets from a late provider delivery', async () => {
      const { projectId, taskId } = await completedBare();
      const delivered = await deliver(JSON.stringify({ taskId, status: 'succeeded', assets }));
      expect(delivered).toMatchObject({ status: 200, body: { projectId, status: 'completed', refunded: 0, assets } });
      expect(await missing()).not.toContain(projectId);
      const head = await api.head();
      expect(
        await deliver(JSON.stringify({ taskId, status: 'succeeded', assets: { previewUrl: assets.previewUrl } })),
      ).toMatchObject({ status: 200, body: { assets } });
      // A new delivery records its answer, but the project has these assets already: no project event.
      const stream = await api.get(`/v1/audit/streams/project-${projectId}`, { key: t.keys.audit });
      expect(stream.body.items.map((e: { type: string }) => e.type)).toEqual([
        'ProjectStarted',
        'ProjectClaimed',
        'ProjectCompleted',
        'ProjectAssetsAttached',
      ]);
      expect((await api.head()) - head).toBe(1n);
    });

    it('is repaired by POST /assets, idempotently, and leaves the list', async () => {
      const { projectId } = await completedBare();
      const repair = await api.post(`/v1/projects/${projectId}/assets`, assets, {
        idempotencyKey: `repair-${projectId}`,
      });
      expect(repair).toMatchObject({ status: 200, body: { projectId, status: 'completed', assets } });
      expect(repair.body.position).toBe(Number(await api.head()));
      expect(await missing()).not.toContain(projectId);
      expect((await read(`/v1/projects/${projectId}`)).body.assets).toMatchObject(assets);

      const head = await api.head();
      const again = await api.post(`/v1/projects/${projectId}/assets`, assets, {
        idempotencyKey: `repair-${projectId}`,
      });
      expect(again).toMatchObject({ status: 200, body: repair.body });
      expect(await api.head()).toBe(head);
      const newKey = await api.post(`/v1/projects/${projectId}/assets`, { assetUrl: assets.assetUrl });
      expect(newKey).toMatchObject({ status: 200, body: { assets } });
      const stream = await api.get(`/v1/audit/streams/project-${projectId}`, { key: t.keys.audit });
      expect(stream.body.items.filter((e: { type: string }) => e.type === 'ProjectAssetsAttached')).toHaveLength(1);

      const thumbnail = { thumbnailUrl: 'https://cdn.test/t.jpg' };
      const merged = await api.post(`/v1/projects/${projectId}/assets`, thumbnail);
      expect(merged.body.assets).toEqual({ ...assets, ...thumbnail });
      expect((await read(`/v1/projects/${projectId}`)).body.assets).toEqual({
        ...assets,
        ...thumbnail,
        resultUrls: null,
      });
    });

    it('refuses assets for a project that is not completed, bad assets, none, and keys without the scope', async () => {
      const { projectId } = await projectOnTask();
      const head = await api.head();
      expect(await api.post(`/v1/projects/${projectId}/assets`, assets)).toMatchObject({
        status: 409,
        body: { error: { code: 'invalid_transition' } },
      });
      for (const body of [{}, { assetUrl: 'ftp://cdn.test/a' }, { videoUrl: 'https://cdn.test/v' }]) {
        expect(await api.post(`/v1/projects/${projectId}/assets`, body)).toMatchObject({
          status: 400,
          body: { error: { code: 'validation_failed' } },
        });
      }
      expect((await api.post('/v1/projects/nope/assets', assets)).status).toBe(404);
      expect((await api.post(`/v1/projects/${projectId}/assets`, assets, { key: t.keys.read })).status).toBe(403);
      expect(await api.head()).toBe(head);
    });
  });
});
