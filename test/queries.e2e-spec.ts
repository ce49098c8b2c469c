import { client, ManualClock, startTestApp, type Reply, type TestApp } from '@ledger/test-support';

/**
 * The queries read the projections' tables: a query with `minPosition` (a
 * command's `position`) sees that command's effect, lists page by cursor
 * without repeats, and a position the projections don't reach in time is 503.
 */
describe('queries over the read models', () => {
  let t: TestApp;
  let api: ReturnType<typeof client>;
  const clock = new ManualClock();

  beforeAll(async () => {
    t = await startTestApp('queries', { clock });
    api = client(t);
  });
  afterAll(async () => {
    await t.close();
  });

  /** A GET with the read-only key, as a dashboard would. */
  const read = (url: string) => api.get(url, { key: t.keys.read });
  const head = async () => Number(await api.head());
  const withParams = (url: string, params: Record<string, string | number>) => {
    const query = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]));
    return `${url}${url.includes('?') ? '&' : '?'}${query}`;
  };

  async function grant(accountId: string, amount: number): Promise<Reply> {
    const reply = await api.post(`/v1/accounts/${accountId}/grants`, { amount, source: 'purchase' });
    expect(reply.status).toBe(201);
    return reply;
  }

  async function start(projectId: string, accountId: string, cost = 10, extra: Record<string, unknown> = {}) {
    const reply = await api.post('/v1/projects', { projectId, accountId, cost, ...extra });
    expect(reply.status).toBe(201);
    return reply;
  }

  async function claim(projectId: string): Promise<Reply> {
    const reply = await api.post(`/v1/projects/${projectId}/claim`, { workerId: 'w-1', leaseSeconds: 60 });
    expect(reply.status).toBe(200);
    return reply;
  }

  /** Every page of a list, following `nextCursor` until it is null. */
  async function walk(url: string, from: string | null = null): Promise<Reply[]> {
    const pages: Reply[] = [];
    let cursor = from;
    do {
      const page: Reply = await read(cursor === null ? url : withParams(url, { cursor }));
      expect(page.status).toBe(200);
      pages.push(page);
      cursor = page.body.nextCursor as string | null;
      expect(pages.length).toBeLessThan(100);
    } while (cursor !== null);
    return pages;
  }

  const idsOf = (pages: Reply[]) => pages.flatMap((p) => p.body.items.map((i: { projectId: string }) => i.projectId));

  describe('read-your-writes', () => {
    it("sees each command's effect at once when asked for its position", async () => {
      const granted = await grant('ryw', 1000);
      const first = await read(`/v1/accounts/ryw?minPosition=${granted.body.position}`);
      expect(first).toMatchObject({
        status: 200,
        body: { accountId: 'ryw', balance: 1000, totalGranted: 1000, totalDebited: 0, totalRefunded: 0 },
      });
      // The account's position is its last balance event's, before the command's idempotency record.
      expect(first.body.position).toBeLessThan(granted.body.position);
      expect(Date.parse(first.body.updatedAt)).not.toBeNaN();
      let previous = first.body.position as number;
      for (let i = 1; i <= 20; i++) {
        const debit = await api.post('/v1/accounts/ryw/debits', { amount: 7, reason: `fee ${i}` });
        const account = await read(`/v1/accounts/ryw?minPosition=${debit.body.position}`);
        expect(account.body).toMatchObject({ balance: 1000 - 7 * i, totalDebited: 7 * i });
        expect(account.body.position).toBeGreaterThan(previous);
        previous = account.body.position;
      }
    });

    it('sees a started, claimed and completed project at each position', async () => {
      await grant('ryw-p', 100);
      const started = await start('ryw-p-1', 'ryw-p', 30);
      expect((await read(`/v1/projects/ryw-p-1?minPosition=${started.body.position}`)).body.status).toBe('pending');
      const claimed = await claim('ryw-p-1');
      expect((await read(`/v1/projects/ryw-p-1?minPosition=${claimed.body.position}`)).body).toMatchObject({
        status: 'processing',
        attempt: 1,
        workerId: 'w-1',
        leaseExpiresAt: claimed.body.leaseExpiresAt,
      });
      const done = await api.post('/v1/projects/ryw-p-1/complete', { attempt: 1, creditsUsed: 20 });
      expect((await read(`/v1/projects/ryw-p-1?minPosition=${done.body.position}`)).body).toMatchObject({
        status: 'completed',
        creditsUsed: 20,
        refunded: 10,
      });
      expect((await read(`/v1/accounts/ryw-p?minPosition=${done.body.position}`)).body.balance).toBe(80);
    });
  });

  describe('GET /v1/projects/{projectId}', () => {
    it('answers every field of the project', async () => {
      await grant('shape', 100);
      const started = await start('shape-1', 'shape', 30, {
        kind: 'video',
        externalTaskId: 'task-shape-1',
        deadlineSeconds: 600,
        metadata: { prompt: 'a cat', seed: 7 },
      });
      const deadlineAt = new Date(clock.now().getTime() + 600_000).toISOString();
      const claimed = await claim('shape-1');
      const assets = {
        assetUrl: 'https://cdn.test/shape-1.mp4',
        previewUrl: 'https://cdn.test/shape-1.jpg',
        resultUrls: ['https://cdn.test/shape-1/a', 'https://cdn.test/shape-1/b'],
      };
      const done = await api.post('/v1/projects/shape-1/complete', { attempt: 1, creditsUsed: 25, assets });
      const project = await read(`/v1/projects/shape-1?minPosition=${done.body.position}`);
      expect(project).toMatchObject({ status: 200 });
      expect(project.body).toEqual({
        projectId: 'shape-1',
        accountId: 'shape',
        status: 'completed',
        cost: 30,
        creditsUsed: 25,
        refunded: 5,
        attempt: 1,
        workerId: 'w-1',
        leaseExpiresAt: claimed.body.leaseExpiresAt,
        deadlineAt,
        errorCode: null,
        errorMessage: null,
        assets: { ...assets, thumbnailUrl: null },
        kind: 'video',
        externalTaskId: 'task-shape-1',
        metadata: { prompt: 'a cat', seed: 7 },
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
        position: expect.any(Number),
      });
      expect(project.body.position).toBeGreaterThan(started.body.position);
      expect(project.body.position).toBeLessThan(done.body.position);
      expect(Date.parse(project.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(project.body.createdAt));
    });

    it('answers a failure with its code and message, no assets, and a pending project with nulls', async () => {
      await grant('shape-f', 100);
      await start('shape-f-1', 'shape-f', 30);
      await claim('shape-f-1');
      const failed = await api.post('/v1/projects/shape-f-1/fail', {
        attempt: 1,
        errorMessage: 'GPU fell over',
        code: 'gpu_error',
      });
      expect((await read(`/v1/projects/shape-f-1?minPosition=${failed.body.position}`)).body).toMatchObject({
        status: 'failed',
        refunded: 30,
        creditsUsed: null,
        errorCode: 'gpu_error',
        errorMessage: 'GPU fell over',
        assets: null,
      });
      const pending = await start('shape-f-2', 'shape-f', 10);
      expect((await read(`/v1/projects/shape-f-2?minPosition=${pending.body.position}`)).body).toMatchObject({
        status: 'pending',
        attempt: 0,
        workerId: null,
        leaseExpiresAt: null,
        creditsUsed: null,
        kind: null,
        externalTaskId: null,
        metadata: null,
        assets: null,
      });
    });
  });

  describe('GET /v1/accounts/{accountId}/ledger', () => {
    let positions: Record<'grant' | 'debit' | 'start' | 'fail', number>;
    const grantId = 'led-order-1';
    beforeAll(async () => {
      const grantReply = await api.post('/v1/accounts/led/grants', {
        amount: 500,
        source: 'purchase',
        reference: 'order-1',
        grantId,
      });
      const debit = await api.post('/v1/accounts/led/debits', { amount: 120, reason: 'storage fee' });
      const started = await start('led-p', 'led', 30);
      const failed = await api.post('/v1/projects/led-p/fail', { errorMessage: 'user cancelled' });
      positions = {
        grant: grantReply.body.position,
        debit: debit.body.position,
        start: started.body.position,
        fail: failed.body.position,
      };
    });

    // A purchase is a paid lot: every balance after it is paid, and every movement draws or returns to it.
    const entries = () =>
      [
        {
          type: 'Refunded',
          amount: 30,
          balanceAfter: 380,
          projectId: 'led-p',
          reason: 'project_failed',
          lots: [{ grantId, amount: 30 }],
        },
        {
          type: 'Debited',
          amount: 30,
          balanceAfter: 350,
          projectId: 'led-p',
          reason: 'project_started',
          lots: [{ grantId, amount: 30 }],
        },
        { type: 'Debited', amount: 120, balanceAfter: 380, reason: 'storage fee', lots: [{ grantId, amount: 120 }] },
        { type: 'CreditsGranted', amount: 500, balanceAfter: 500, source: 'purchase', reference: 'order-1', grantId },
      ].map((entry) => ({ ...entry, paidAfter: entry.balanceAfter, promotionalAfter: 0 }));

    it('lists every money movement with the balance after it, newest first', async () => {
      const page = await read(`/v1/accounts/led/ledger?minPosition=${positions.fail}`);
      expect(page.status).toBe(200);
      expect(page.body.nextCursor).toBeNull();
      expect(page.body.items).toEqual(
        entries().map((e) => ({ ...e, position: expect.any(Number), at: expect.any(String) })),
      );
      const [refund, projectDebit, debit, granted] = page.body.items.map((e: { position: number }) => e.position);
      expect(refund).toBeLessThan(positions.fail);
      expect(projectDebit).toBeLessThan(positions.start);
      expect(debit).toBeLessThan(positions.debit);
      expect(granted).toBeLessThan(positions.grant);
      expect([refund, projectDebit, debit, granted]).toEqual(
        [refund, projectDebit, debit, granted].sort((a, b) => b - a),
      );
    });

    it('lists oldest first with order=asc, and pages in either order', async () => {
      const asc = await read(`/v1/accounts/led/ledger?order=asc&minPosition=${positions.fail}`);
      expect(asc.body.items.map((e: object) => ({ ...e, position: 0, at: '' }))).toEqual(
        entries()
          .reverse()
          .map((e) => ({ ...e, position: 0, at: '' })),
      );
      for (const order of ['asc', 'desc']) {
        const pages = await walk(`/v1/accounts/led/ledger?order=${order}&limit=1`);
        expect(pages.map((p) => p.body.items.length)).toEqual([1, 1, 1, 1]);
        const walked = pages.flatMap((p) => p.body.items);
        expect(walked).toEqual(order === 'asc' ? asc.body.items : [...asc.body.items].reverse());
      }
    });
  });

  describe('project lists', () => {
    let last: number;
    beforeAll(async () => {
      await grant('pages', 1000);
      for (let i = 1; i <= 7; i++) last = (await start(`pages-${i}`, 'pages')).body.position;
    });
    const newestFirst = ['pages-7', 'pages-6', 'pages-5', 'pages-4', 'pages-3', 'pages-2', 'pages-1'];

    it.each(['/v1/accounts/pages/projects?limit=3', '/v1/projects?accountId=pages&limit=3'])(
      'walks 7 projects in pages of 3 (%s): each once, newest first',
      async (url) => {
        const pages = await walk(withParams(url, { minPosition: last }));
        expect(pages.map((p) => p.body.items.length)).toEqual([3, 3, 1]);
        expect(idsOf(pages)).toEqual(newestFirst);
        const item = pages[0]!.body.items[0];
        expect(item).toEqual((await read('/v1/projects/pages-7')).body);
      },
    );

    it('is not shifted by a project started between two pages', async () => {
      const first = await read(`/v1/accounts/pages/projects?limit=3&minPosition=${last}`);
      expect(idsOf([first])).toEqual(newestFirst.slice(0, 3));
      const started = await start('pages-8', 'pages');
      const rest = await walk(
        withParams('/v1/accounts/pages/projects?limit=3', { minPosition: started.body.position }),
        first.body.nextCursor,
      );
      expect(idsOf(rest)).toEqual(newestFirst.slice(3));
      const all = await walk(`/v1/accounts/pages/projects?limit=500&minPosition=${started.body.position}`);
      expect(idsOf(all)).toEqual(['pages-8', ...newestFirst]);
    });

    it('answers an account without projects with an empty page', async () => {
      const granted = await grant('no-projects', 5);
      expect((await read(`/v1/accounts/no-projects/projects?minPosition=${granted.body.position}`)).body).toEqual({
        items: [],
        nextCursor: null,
      });
    });

    describe('filters', () => {
      let at: number;
      beforeAll(async () => {
        await grant('filt', 1000);
        await start('filt-pending', 'filt');
        await start('filt-processing', 'filt');
        await claim('filt-processing');
        await start('filt-bare', 'filt');
        await claim('filt-bare');
        await api.post('/v1/projects/filt-bare/complete', { attempt: 1 });
        await start('filt-assets', 'filt');
        await claim('filt-assets');
        await api.post('/v1/projects/filt-assets/complete', {
          attempt: 1,
          assets: { assetUrl: 'https://cdn.test/filt-assets' },
        });
        await start('filt-failed', 'filt');
        at = (await api.post('/v1/projects/filt-failed/fail', { errorMessage: 'cancelled' })).body.position;
      });
      const ids = async (url: string) => idsOf(await walk(withParams(url, { minPosition: at })));

      it("filters an account's projects by status", async () => {
        expect(await ids('/v1/accounts/filt/projects?status=pending')).toEqual(['filt-pending']);
        expect(await ids('/v1/accounts/filt/projects?status=processing')).toEqual(['filt-processing']);
        expect(await ids('/v1/accounts/filt/projects?status=completed')).toEqual(['filt-assets', 'filt-bare']);
        expect(await ids('/v1/accounts/filt/projects?status=failed&limit=1')).toEqual(['filt-failed']);
        expect(await ids('/v1/accounts/filt/projects')).toEqual([
          'filt-failed',
          'filt-assets',
          'filt-bare',
          'filt-processing',
          'filt-pending',
        ]);
      });

      it('filters all projects by status and account, and finds completed projects missing their asset', async () => {
        expect(await ids('/v1/projects?status=completed&accountId=filt')).toEqual(['filt-assets', 'filt-bare']);
        const failed = (await walk(`/v1/projects?status=failed&limit=2&minPosition=${at}`)).flatMap(
          (p) => p.body.items,
        );
        expect(failed.length).toBeGreaterThan(0);
        expect(failed.every((p: { status: string }) => p.status === 'failed')).toBe(true);
        expect(failed.map((p: { projectId: string }) => p.projectId)).toContain('filt-failed');
        const missing = (await walk(`/v1/projects?missingAssets=true&minPosition=${at}`)).flatMap((p) => p.body.items);
        expect(missing.map((p: { projectId: string }) => p.projectId)).toContain('filt-bare');
        expect(missing.map((p: { projectId: string }) => p.projectId)).not.toContain('filt-assets');
        expect(
          missing.every((p: { status: string; assets: { assetUrl: string | null } | null }) => {
            return p.status === 'completed' && (p.assets === null || p.assets.assetUrl === null);
          }),
        ).toBe(true);
        expect(await ids('/v1/projects?missingAssets=true&accountId=filt')).toEqual(['filt-bare']);
        expect(await ids('/v1/projects?missingAssets=false&accountId=filt&status=pending')).toEqual(['filt-pending']);
      });

      it('lists every project across accounts, newest first, each once', async () => {
        const all = idsOf(await walk(`/v1/projects?limit=4&minPosition=${at}`));
        expect(new Set(all).size).toBe(all.length);
        expect(all.indexOf('filt-failed')).toBeLessThan(all.indexOf('filt-pending'));
        expect(all.indexOf('filt-pending')).toBeLessThan(all.indexOf('pages-1'));
      });
    });
  });

  describe('refusals', () => {
    it('answers 404 for an unknown account, its ledger and projects, and an unknown project', async () => {
      const caughtUp = await head();
      for (const url of [
        '/v1/accounts/nobody',
        '/v1/accounts/nobody/ledger',
        '/v1/accounts/nobody/projects',
        '/v1/accounts/nobody/projects?status=failed',
        '/v1/projects/nothing',
      ]) {
        const reply = await read(withParams(url, { minPosition: caughtUp }));
        expect([url, reply.status, reply.body.error?.code]).toEqual([url, 404, 'not_found']);
      }
    });

    const foreignCursor = Buffer.from('2:5').toString('base64url');
    const notACursor = Buffer.from('hello').toString('base64url');
    it.each([
      ['/v1/projects?limit=0', 'limit'],
      ['/v1/projects?limit=501', 'limit'],
      ['/v1/projects?limit=abc', 'limit'],
      ['/v1/projects?limit=1.5', 'limit'],
      ['/v1/projects?limit=-1', 'limit'],
      ['/v1/projects?limit=', 'limit'],
      ['/v1/projects?limit=1&limit=2', 'limit'],
      ['/v1/accounts/led/projects?limit=1e2', 'limit'],
      ['/v1/accounts/led/ledger?limit=0', 'limit'],
      ['/v1/projects?cursor=!!!', 'cursor'],
      [`/v1/projects?cursor=${notACursor}`, 'cursor'],
      [`/v1/accounts/led/ledger?cursor=${foreignCursor}`, 'cursor'],
      ['/v1/projects?cursor=', 'cursor'],
      ['/v1/projects?status=done', 'status'],
      ['/v1/accounts/led/projects?status=PENDING', 'status'],
      ['/v1/projects?accountId=bad%20id', 'accountId'],
      ['/v1/projects?missingAssets=yes', 'missingAssets'],
      ['/v1/accounts/led/ledger?order=sideways', 'order'],
      ['/v1/accounts/led?minPosition=-1', 'minPosition'],
      ['/v1/accounts/led?minPosition=1.5', 'minPosition'],
      ['/v1/accounts/led?minPosition=99999999999999999', 'minPosition'],
      ['/v1/projects/led-p?waitMs=30001', 'waitMs'],
      ['/v1/projects/led-p?waitMs=soon', 'waitMs'],
      ['/v1/accounts/led?limit=5', 'limit'],
      ['/v1/projects?foo=1', 'foo'],
      ['/v1/accounts/bad%20id/ledger', 'accountId'],
    ])('refuses %s with 400 naming %s', async (url, field) => {
      const reply = await read(url);
      expect(reply).toMatchObject({ status: 400, body: { error: { code: 'validation_failed' } } });
      expect(reply.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
    });

    it('accepts the limits themselves: 1 and 500, waitMs 0 and 30000, minPosition 0', async () => {
      for (const url of [
        '/v1/projects?limit=1',
        '/v1/projects?limit=500',
        '/v1/accounts/led?waitMs=0',
        '/v1/accounts/led?waitMs=30000&minPosition=0',
      ]) {
        expect([url, (await read(url)).status]).toEqual([url, 200]);
      }
    });

    it.each([
      '/v1/accounts/led',
      '/v1/accounts/led/ledger',
      '/v1/accounts/led/projects',
      '/v1/projects/led-p',
      '/v1/projects',
    ])('answers %s with 503 projection_behind when minPosition is not reached within waitMs', async (url) => {
      const started = Date.now();
      const reply = await read(withParams(url, { minPosition: (await head()) + 1000, waitMs: 50 }));
      expect(reply).toMatchObject({ status: 503, body: { error: { code: 'projection_behind' } } });
      expect(reply.headers['retry-after']).toBeDefined();
      // Well short of the 2 s default: the caller's waitMs was honoured.
      expect(Date.now() - started).toBeLessThan(1500);
    });

    it('needs a key with the read scope', async () => {
      for (const url of ['/v1/accounts/led/ledger', '/v1/accounts/led/projects', '/v1/projects']) {
        expect((await api.get(url, { key: null })).status).toBe(401);
        expect((await api.get(url, { key: t.keys.commands })).body.error.code).toBe('forbidden');
        expect((await api.get(url, { key: t.keys.audit })).status).toBe(403);
        expect((await api.get(url, { key: t.keys.admin })).status).toBe(200);
      }
    });
  });

  it('answers 503 unavailable with Retry-After when the read models cannot be reached, never 500', async () => {
    const down = await startTestApp('queries_down');
    try {
      await down.runtime.pool.end();
      for (const url of [
        '/v1/accounts/acc',
        '/v1/accounts/acc/ledger',
        '/v1/projects/p',
        '/v1/projects?minPosition=5',
      ]) {
        const reply = await client(down).get(url, { key: down.keys.read });
        expect([url, reply.status, reply.body.error?.code]).toEqual([url, 503, 'unavailable']);
        expect(reply.headers['retry-after']).toBe('2');
      }
    } finally {
      await down.app.close();
      await down.runtime.eventStore.close();
    }
  });

  it('documents the queries and their parameters in the OpenAPI document', async () => {
    const document = (await t.app.inject({ method: 'GET', url: '/docs-json' })).json() as {
      paths: Record<string, { get?: { parameters?: { name: string; in: string }[]; security?: unknown[] } }>;
    };
    const queryParameters = (path: string) =>
      (document.paths[path]?.get?.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
    const read = ['minPosition', 'waitMs'];
    const page = [...read, 'limit', 'cursor'];
    expect(queryParameters('/v1/accounts/{accountId}')).toEqual(expect.arrayContaining(read));
    expect(queryParameters('/v1/projects/{projectId}')).toEqual(expect.arrayContaining(read));
    expect(queryParameters('/v1/accounts/{accountId}/ledger')).toEqual(expect.arrayContaining([...page, 'order']));
    expect(queryParameters('/v1/accounts/{accountId}/projects')).toEqual(expect.arrayContaining([...page, 'status']));
    expect(queryParameters('/v1/projects')).toEqual(
      expect.arrayContaining([...page, 'status', 'accountId', 'missingAssets']),
    );
    expect(document.paths['/v1/projects']?.get?.security).toEqual([{ bearer: [] }]);
  });
});
