import { randomUUID } from 'node:crypto';
import { idempotencyStream } from '@ledger/domain';
import type { StoredEvent } from '@ledger/event-store';
import { client, startTestApp, type TestApp } from '@ledger/test-support';

/**
 * The audit endpoints over HTTP, after a mixed workload: the log as stored (one stream,
 * all of it as pages and as NDJSON) and the reconciliation of the read models with it.
 */
describe('audit over HTTP', () => {
  let t: TestApp;
  let api: ReturnType<typeof client>;
  let lastPosition = 0;
  // 100 characters, the longest a path parameter may be: its stream name is past 100.
  const longAccountId = `acc-${'x'.repeat(96)}`;
  const accounts = ['acc-a', 'acc-b', 'acc-c', longAccountId];

  const post = async (url: string, body: unknown, idempotencyKey?: string) => {
    const response = await api.post(url, body, idempotencyKey === undefined ? {} : { idempotencyKey });
    expect(response.status).toBeLessThan(300);
    lastPosition = Math.max(lastPosition, response.body.position as number);
    return response;
  };
  const reconcile = async (minPosition = lastPosition, key = t.keys.audit, full = false) =>
    api.get(`/v1/audit/reconciliation?minPosition=${minPosition}&waitMs=10000${full ? '&full=true' : ''}`, { key });
  // A row edited by hand touches no stream: the whole fold sees it at once (the continuous
  // check, at its next sweep: test/reconciliation-checker.e2e-spec.ts).
  const reconcileFully = async () => reconcile(lastPosition, t.keys.audit, true);
  const ndjson = (query = '', key = t.keys.audit) =>
    t.app.inject({
      method: 'GET',
      url: `/v1/audit/events${query}`,
      headers: { authorization: `Bearer ${key}`, accept: 'application/x-ndjson' },
    });
  const storedLedgerEvents = async (): Promise<StoredEvent[]> => {
    const all: StoredEvent[] = [];
    for (let after = 0n; ;) {
      const batch = await t.runtime.eventStore.readAll({ afterPosition: after, limit: 1000 });
      all.push(...batch.filter((e) => !e.streamName.startsWith('idem-')));
      if (batch.length < 1000) return all;
      after = batch.at(-1)!.position;
    }
  };

  beforeAll(async () => {
    t = await startTestApp('audit');
    api = client(t);
    for (const accountId of accounts) {
      await post(`/v1/accounts/${accountId}/grants`, { amount: 1000, source: 'purchase' });
    }
    await post('/v1/accounts/acc-a/debits', { amount: 25, reason: 'storage fee' }, 'audit-debit-1');
    await post('/v1/accounts/acc-b/grants', { amount: 50, source: 'promo', reference: 'spring' });
    // Projects: completed with partial use, completed in full, failed by its worker, cancelled, left pending/processing.
    const projects = [
      { projectId: 'p-partial', accountId: 'acc-a', cost: 100 },
      { projectId: 'p-full', accountId: 'acc-b', cost: 60 },
      { projectId: 'p-failed', accountId: 'acc-c', cost: 80 },
      { projectId: 'p-cancelled', accountId: 'acc-a', cost: 40 },
      { projectId: 'p-pending', accountId: 'acc-b', cost: 10 },
      { projectId: 'p-processing', accountId: longAccountId, cost: 70 },
    ];
    for (const project of projects) await post('/v1/projects', { ...project, kind: 'video' });
    for (const projectId of ['p-partial', 'p-full', 'p-failed', 'p-processing']) {
      await post(`/v1/projects/${projectId}/claim`, { workerId: 'w-1', leaseSeconds: 60 });
    }
    await post('/v1/projects/p-partial/heartbeat', { attempt: 1, leaseSeconds: 60 });
    await post('/v1/projects/p-partial/complete', {
      attempt: 1,
      creditsUsed: 35,
      assets: { assetUrl: 'https://cdn.example/p-partial.mp4' },
    });
    await post('/v1/projects/p-full/complete', { attempt: 1 });
    await post('/v1/projects/p-failed/fail', { attempt: 1, errorMessage: 'model crashed', code: 'gpu_oom' });
    await post('/v1/projects/p-cancelled/fail', { errorMessage: 'changed my mind' });
    await post(`/v1/accounts/${longAccountId}/debits`, { amount: 5, reason: 'export' });
  });
  afterAll(async () => {
    await t.close();
  });

  describe('reconciliation', () => {
    it.each([false, true])(
      'finds the read models equal to the fold of the log and no invariant broken (full: %s)',
      async (full) => {
        const report = await reconcile(lastPosition, t.keys.audit, full);
        expect(report.status).toBe(200);
        expect(report.body).toMatchObject({
          checkedAccounts: accounts.length,
          checkedProjects: 6,
          mismatches: [],
          mismatchCount: 0,
          violations: [],
          violationCount: 0,
          mode: full ? 'full' : 'continuous',
        });
        expect(report.body.position).toBeGreaterThanOrEqual(lastPosition);
        expect(report.body.headPosition).toBeGreaterThanOrEqual(report.body.position);
        expect(report.body.lagEvents).toBe(report.body.headPosition - report.body.position);
        expect(report.body.checkpoints.accountBalances).toBeGreaterThanOrEqual(lastPosition);
      },
    );

    it('reports a hand-edited balance row as a mismatch for that account, and clean again once undone', async () => {
      const balanceOf = async () => (await api.get('/v1/accounts/acc-c', { key: t.keys.read })).body.balance as number;
      const balance = await balanceOf();
      const tamper = (delta: number) =>
        t.runtime.pool.query('UPDATE projections.account_balances SET balance = balance + $1 WHERE account_id = $2', [
          delta,
          'acc-c',
        ]);
      await tamper(1);
      try {
        const report = await reconcileFully();
        expect(report.status).toBe(200);
        expect(report.body.mismatches).toEqual([
          { accountId: 'acc-c', field: 'balance', projected: balance + 1, folded: balance },
        ]);
        // The row also breaks I1 on its own (its balance is no longer its totals' sum) and
        // I7 (its lots no longer hold its balance).
        expect(report.body.violations).toEqual([
          expect.objectContaining({ invariant: 'I1', id: 'acc-c', position: null }),
          expect.objectContaining({ invariant: 'I7', id: 'acc-c', position: null }),
        ]);
      } finally {
        await tamper(-1);
      }
      expect((await reconcileFully()).body).toMatchObject({ mismatches: [], violations: [] });
    });

    it('reports a row missing from the read model', async () => {
      const row = await t.runtime.pool.query('DELETE FROM projections.projects WHERE project_id = $1 RETURNING *', [
        'p-pending',
      ]);
      try {
        const report = await reconcileFully();
        expect(report.body.mismatches).toEqual([
          { projectId: 'p-pending', field: 'row', projected: null, folded: 'present' },
        ]);
      } finally {
        const columns = Object.keys(row.rows[0] as object);
        await t.runtime.pool.query(
          `INSERT INTO projections.projects (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`,
          columns.map((c) => (row.rows[0] as Record<string, unknown>)[c]),
        );
      }
      expect((await reconcileFully()).body.mismatchCount).toBe(0);
    });

    it('answers 503 projection_behind when the read models do not reach minPosition in time', async () => {
      const url = `/v1/audit/reconciliation?minPosition=${lastPosition + 1_000_000}&waitMs=50`;
      const report = await api.get(url, { key: t.keys.audit });
      expect(report).toMatchObject({ status: 503, body: { error: { code: 'projection_behind' } } });
      expect(report.headers['retry-after']).toBe('1');
    });
  });

  describe('streams', () => {
    it('shows a stream’s events exactly as stored, paged by revision', async () => {
      const stored = await t.runtime.eventStore.readStream('account-acc-a');
      const first = await api.get('/v1/audit/streams/account-acc-a?limit=2', { key: t.keys.audit });
      expect(first.status).toBe(200);
      expect(first.body.nextRevision).toBe(2);
      const rest = await api.get('/v1/audit/streams/account-acc-a?fromRevision=2', { key: t.keys.audit });
      expect(rest.body.nextRevision).toBeNull();
      const items = [...first.body.items, ...rest.body.items];
      expect(items).toEqual(
        stored.map((e) => ({
          revision: Number(e.revision),
          position: Number(e.position),
          id: e.id,
          type: e.type,
          data: e.data,
          metadata: e.metadata,
          at: e.createdAt.toISOString(),
        })),
      );
      expect(items.map((i) => i.type)).toEqual([
        'CreditsGranted',
        'Debited',
        'Debited',
        'Debited',
        'Refunded',
        'Refunded',
      ]);
      expect(items[1]).toMatchObject({
        data: { amount: 25, reason: 'storage fee' },
        metadata: { idempotencyKey: 'audit-debit-1', caller: 'test-admin' },
      });
    });

    it('reads a project stream and a stream name past 100 characters', async () => {
      const project = await api.get('/v1/audit/streams/project-p-partial', { key: t.keys.audit });
      expect(project.body.items.map((i: { type: string }) => i.type)).toEqual([
        'ProjectStarted',
        'ProjectClaimed',
        'LeaseExtended',
        'ProjectCompleted',
      ]);
      const long = await api.get(`/v1/audit/streams/account-${longAccountId}`, { key: t.keys.audit });
      expect(long.status).toBe(200);
      expect(long.body.items).toHaveLength(3);
    });

    it('keeps idempotency records readable here', async () => {
      const streamName = idempotencyStream('test-admin', 'audit-debit-1');
      const record = await api.get(`/v1/audit/streams/${streamName}`, { key: t.keys.audit });
      expect(record.status).toBe(200);
      expect(record.body.items).toEqual([
        expect.objectContaining({
          revision: 0,
          type: 'CommandRecorded',
          data: expect.objectContaining({ status: 201 }),
        }),
      ]);
    });

    it('reads any stream name the store holds, URL-encoded: spaces, slashes, past 100 characters', async () => {
      for (const streamName of ['legacy import/2024 #1?', `legacy-${'y'.repeat(290)}`]) {
        const event = { id: randomUUID(), type: 'LegacyImported', data: { rows: 3 }, metadata: { by: 'migration' } };
        await t.runtime.eventStore.append([{ streamName, expectedRevision: 'no_stream', events: [event] }]);
        const read = await api.get(`/v1/audit/streams/${encodeURIComponent(streamName)}`, { key: t.keys.audit });
        expect(read.status).toBe(200);
        expect(read.body.items).toEqual([expect.objectContaining({ revision: 0, id: event.id, data: { rows: 3 } })]);
      }
    });

    it('answers 404 for a stream without events, also names with slashes and spaces', async () => {
      for (const name of ['account-nobody', 'some%2Fother%20stream', 'a/b']) {
        const response = await api.get(`/v1/audit/streams/${name}`, { key: t.keys.audit });
        expect(response).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
      }
      const past = await api.get('/v1/audit/streams/account-acc-a?fromRevision=999', { key: t.keys.audit });
      expect(past).toMatchObject({ status: 200, body: { items: [], nextRevision: null } });
    });

    it.each([
      ['a control character in the name', `/v1/audit/streams/bad%0Aname`, 'streamName'],
      ['a name past 300 characters', `/v1/audit/streams/${'n'.repeat(301)}`, 'streamName'],
      ['limit 0', '/v1/audit/streams/account-acc-a?limit=0', 'limit'],
      ['limit 1001', '/v1/audit/streams/account-acc-a?limit=1001', 'limit'],
      ['a negative revision', '/v1/audit/streams/account-acc-a?fromRevision=-1', 'fromRevision'],
      ['a fractional revision', '/v1/audit/streams/account-acc-a?fromRevision=1.5', 'fromRevision'],
    ])('refuses %s with 400 naming it', async (_, url, field) => {
      const response = await api.get(url, { key: t.keys.audit });
      expect(response.status).toBe(400);
      expect(response.body.error.details.map((d: { field: string }) => d.field)).toEqual([field]);
    });
  });

  describe('the global log', () => {
    async function walkPages(limit: number) {
      const items: Record<string, unknown>[] = [];
      let pages = 0;
      for (let from: number | null = 0; from !== null; pages++) {
        const page = await api.get(`/v1/audit/events?fromPosition=${from}&limit=${limit}`, { key: t.keys.audit });
        expect(page.status).toBe(200);
        expect(page.body.items.length).toBeLessThanOrEqual(limit);
        items.push(...page.body.items);
        from = page.body.nextPosition;
      }
      return { items, pages };
    }

    it('pages through every ledger event once, in order, without idempotency records', async () => {
      const stored = await storedLedgerEvents();
      const { items, pages } = await walkPages(7);
      expect(pages).toBeGreaterThan(3);
      expect(items.map((i) => i.id)).toEqual(stored.map((e) => e.id));
      expect(items.some((i) => String(i.streamName).startsWith('idem-'))).toBe(false);
      expect(items[0]).toEqual({
        position: Number(stored[0]!.position),
        streamName: stored[0]!.streamName,
        revision: 0,
        id: stored[0]!.id,
        type: 'CreditsGranted',
        data: stored[0]!.data,
        metadata: stored[0]!.metadata,
        at: stored[0]!.createdAt.toISOString(),
      });
    });

    it('streams the same events as NDJSON, one line each, up to the head at the request', async () => {
      const { items } = await walkPages(100);
      const response = await ndjson();
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toContain('application/x-ndjson');
      const lines = response.body.split('\n');
      expect(lines.pop()).toBe('');
      expect(lines.map((line) => JSON.parse(line) as unknown)).toEqual(items);
      expect(response.headers['x-audit-up-to']).toBe(String(await api.head()));
    });

    it('streams from a position and up to a limit', async () => {
      const { items } = await walkPages(1000);
      const from = items[4]!.position as number;
      const response = await ndjson(`?fromPosition=${from}&limit=6`);
      const lines = response.body
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { id: string });
      expect(lines.map((l) => l.id)).toEqual(items.slice(5, 11).map((i) => i.id));
      const empty = await ndjson(`?fromPosition=${Number(await api.head())}`);
      expect(empty).toMatchObject({ statusCode: 200, body: '' });
      const page = await api.get(`/v1/audit/events?fromPosition=${Number(await api.head())}`, { key: t.keys.audit });
      expect(page.body).toEqual({ items: [], nextPosition: null });
    });

    it.each([
      ['a JSON limit past 1000', '?limit=1001', 'limit'],
      ['a negative position', '?fromPosition=-1', 'fromPosition'],
      ['a position in another notation', '?fromPosition=1e3', 'fromPosition'],
    ])('refuses %s with 400', async (_, query, field) => {
      const response = await api.get(`/v1/audit/events${query}`, { key: t.keys.audit });
      expect(response.status).toBe(400);
      expect(response.body.error.details.map((d: { field: string }) => d.field)).toEqual([field]);
    });

    it('takes NDJSON limits past a JSON page, up to 10,000,000', async () => {
      expect((await ndjson('?limit=10000000')).statusCode).toBe(200);
      expect((await ndjson('?limit=10000001')).statusCode).toBe(400);
    });
  });

  describe('access', () => {
    const urls = ['/v1/audit/streams/account-acc-a', '/v1/audit/events', '/v1/audit/reconciliation'];

    it.each(urls)('%s needs the audit scope: 403 for read and commands keys, 401 without a key', async (url) => {
      for (const key of [t.keys.read, t.keys.commands]) {
        expect(await api.get(url, { key })).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
      }
      expect((await api.get(url, { key: null })).status).toBe(401);
      expect((await api.get(url, { key: t.keys.audit })).status).toBe(200);
      expect((await api.get(url, { key: t.keys.admin })).status).toBe(200);
    });

    it('refuses NDJSON without the scope before streaming anything', async () => {
      const response = await ndjson('', t.keys.read);
      expect(response.statusCode).toBe(403);
      expect(response.json()).toMatchObject({ error: { code: 'forbidden' } });
    });
  });

  it('is in the OpenAPI document under the paths of API.md', async () => {
    const document = (await t.app.inject({ method: 'GET', url: '/docs-json' })).json<{
      paths: Record<string, Record<string, { parameters?: { name: string; in: string }[] }>>;
    }>();
    const audit = Object.keys(document.paths).filter((path) => path.startsWith('/v1/audit'));
    expect(audit.sort()).toEqual(['/v1/audit/events', '/v1/audit/reconciliation', '/v1/audit/streams/{streamName}']);
    expect(document.paths['/v1/audit/streams/{streamName}']!.get!.parameters).toContainEqual(
      expect.objectContaining({ name: 'streamName', in: 'path' }),
    );
  });

  // Last: it adds events to the streams the tests above list exactly.
  describe('under load', () => {
    it('stays clean while commands keep appending: it compares at the read models’ checkpoints', async () => {
      const writes = Array.from({ length: 30 }, (_, i) =>
        i % 3 === 0
          ? post('/v1/projects', { projectId: `p-load-${i}`, accountId: 'acc-b', cost: 3 })
          : post(`/v1/accounts/${accounts[i % accounts.length]}/grants`, { amount: i + 1, source: 'promo' }),
      );
      const reports = Array.from({ length: 5 }, () => reconcile(0));
      for (const report of await Promise.all(reports)) {
        expect(report.status).toBe(200);
        expect(report.body).toMatchObject({ mismatches: [], violations: [] });
      }
      await Promise.all(writes);
      expect((await reconcile()).body).toMatchObject({ checkedProjects: 16, mismatches: [], violations: [] });
    });
  });
});
