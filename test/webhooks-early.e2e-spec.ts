import pg from 'pg';
import { EarlyDeliveries } from '@ledger/ledger-api';
import {
  buildServiceTree,
  client,
  createTestDatabase,
  ManualClock,
  providerSignature,
  startServiceProcess,
  startTestApp,
  within,
  type Reply,
  type ServiceProcess,
  type TestApp,
} from '@ledger/test-support';

const PROVIDER = 'kie';
const SECRET = 'whsec_early_0123456789';
const SECRETS = { LEDGER_WEBHOOK_SECRETS: `${PROVIDER}:${SECRET}` };
const COST = 25;
// The bound: the project shows the early delivery's result within 2 s of its start.
const APPLIED_MS_MAX = 2_000;
const START_TIMEOUT_MS = 60_000;
const assets = { assetUrl: 'https://cdn.test/early.mp4', previewUrl: 'https://cdn.test/early.jpg' };

let n = 0;
const ids = (label: string) => {
  const id = `${label}-${++n}-${Date.now()}`;
  return { accountId: `acc-${id}`, projectId: `prj-${id}`, taskId: `task-${id}` };
};

/** The events of a stream as stored, counted by type: what "applied exactly once" is judged by. */
async function eventTypes(databaseUrl: string, streamName: string): Promise<string[]> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const { rows } = await db.query<{ event_type: string }>(
      'SELECT event_type FROM event_store.events WHERE stream_name = $1 ORDER BY revision',
      [streamName],
    );
    return rows.map((row) => row.event_type);
  } finally {
    await db.end();
  }
}

/** Same checks, whatever runs the service: in this process (inject) or as a real process (fetch). */
interface Api {
  deliver(rawBody: string, atSeconds?: number): Promise<Reply>;
  post(path: string, body: unknown): Promise<Reply>;
  get(path: string, key?: 'audit' | 'read'): Promise<Reply>;
}

function injected(t: TestApp, clock?: ManualClock): Api {
  const api = client(t);
  return {
    async deliver(rawBody, atSeconds) {
      const at = atSeconds ?? Math.floor((clock?.now() ?? new Date()).getTime() / 1000);
      const response = await t.app.inject({
        method: 'POST',
        url: `/v1/webhooks/${PROVIDER}`,
        payload: rawBody,
        headers: { 'content-type': 'application/json', 'x-signature': providerSignature(SECRET, rawBody, at) },
      });
      return { status: response.statusCode, body: response.json(), headers: response.headers };
    },
    post: (path, body) => api.post(path, body),
    get: (path, key = 'read') => api.get(path, { key: t.keys[key] }),
  };
}

const PROCESS_KEY = 'early-admin-secret-0123456789abcdef';
function overHttp(service: () => ServiceProcess): Api {
  const call = async (method: string, path: string, body?: string, headers: Record<string, string> = {}) => {
    const response = await fetch(`${service().url}${path}`, {
      method,
      headers: { authorization: `Bearer ${PROCESS_KEY}`, 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : {}, headers: {} } as Reply;
  };
  return {
    deliver: (rawBody, atSeconds) =>
      call('POST', `/v1/webhooks/${PROVIDER}`, rawBody, {
        'x-signature': providerSignature(SECRET, rawBody, atSeconds ?? Math.floor(Date.now() / 1000)),
      }),
    post: (path, body) => call('POST', path, JSON.stringify(body), { 'idempotency-key': `k-${path}-${++n}` }),
    get: (path) => call('GET', path),
  };
}

/**
 * An early delivery (before its project exists) through `early`, then the start through
 * `late`: the project is completed with the delivery's assets within 2 s, the kept
 * delivery applied exactly once (counted in the store), and the provider's repeat changes nothing.
 */
async function earlyThenStart(
  label: string,
  databaseUrl: string,
  early: Api,
  late: Api,
  between: () => Promise<void> = async () => undefined,
) {
  const { accountId, projectId, taskId } = ids(label);
  const rawBody = JSON.stringify({ taskId, status: 'succeeded', assets });
  expect(await early.deliver(rawBody)).toMatchObject({ status: 202, body: { taskId, matched: false } });
  await between();
  expect((await late.post(`/v1/accounts/${accountId}/grants`, { amount: 100, source: 'purchase' })).status).toBe(201);
  const start = await late.post('/v1/projects', { projectId, accountId, cost: COST, externalTaskId: taskId });
  // The start's answer is what it always was.
  expect(start).toMatchObject({
    status: 201,
    body: { projectId, status: 'pending', balance: 100 - COST, position: expect.any(Number) },
  });
  expect(Object.keys(start.body).sort()).toEqual(['balance', 'position', 'projectId', 'status']);
  const shown = async () => (await late.get(`/v1/projects/${projectId}`)).body.status === 'completed';
  expect(await within(APPLIED_MS_MAX, shown)).toBeDefined();
  expect((await late.get(`/v1/projects/${projectId}`)).body).toMatchObject({
    status: 'completed',
    attempt: 0,
    creditsUsed: COST,
    refunded: 0,
    assets: { ...assets, thumbnailUrl: null, resultUrls: null },
  });
  expect(await eventTypes(databaseUrl, `project-${projectId}`)).toEqual(['ProjectStarted', 'ProjectCompleted']);
  expect(await eventTypes(databaseUrl, `account-${accountId}`)).toEqual(['CreditsGranted', 'Debited']);

  // A replay of the early delivery after it was applied changes nothing: the application's answer.
  const applied = (await late.get(`/v1/webhooks/unmatched?status=applied&limit=500`, 'audit')).body.items.find(
    (item: { taskId: string }) => item.taskId === taskId,
  );
  expect(applied).toMatchObject({ status: 'applied', projectId, appliedStatus: 200, position: expect.any(Number) });
  const replay = await late.deliver(rawBody);
  expect(replay).toMatchObject({
    status: 200,
    body: { projectId, status: 'completed', refunded: 0, assets, position: applied.position },
  });
  expect(await eventTypes(databaseUrl, `project-${projectId}`)).toEqual(['ProjectStarted', 'ProjectCompleted']);
  return { accountId, projectId, taskId };
}

describe('an early provider delivery is applied when its project starts', () => {
  describe('one service', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp('webhooks_early', { env: SECRETS });
    }, START_TIMEOUT_MS);
    afterAll(() => t?.close());

    it('completes the project within 2 s of its start with the delivery’s assets, exactly once', async () => {
      await earlyThenStart('one', t.runtime.databaseUrl, injected(t), injected(t));
    });

    it('fails the project with the provider’s error and refunds it once', async () => {
      const api = injected(t);
      const { accountId, projectId, taskId } = ids('fail');
      expect(await api.deliver(JSON.stringify({ taskId, status: 'failed', error: 'quota exceeded' }))).toMatchObject({
        status: 202,
      });
      await api.post(`/v1/accounts/${accountId}/grants`, { amount: 100, source: 'purchase' });
      await api.post('/v1/projects', { projectId, accountId, cost: COST, externalTaskId: taskId });
      const failed = async () => (await api.get(`/v1/projects/${projectId}`)).body.status === 'failed';
      expect(await within(APPLIED_MS_MAX, failed)).toBeDefined();
      expect((await api.get(`/v1/projects/${projectId}`)).body).toMatchObject({
        errorCode: 'provider_failed',
        errorMessage: 'quota exceeded',
        refunded: COST,
      });
      expect(await eventTypes(t.runtime.databaseUrl, `account-${accountId}`)).toEqual([
        'CreditsGranted',
        'Debited',
        'Refunded',
      ]);
    });

    it('applies the first of two kept deliveries and keeps the second’s refusal as its answer (409)', async () => {
      const api = injected(t);
      const { accountId, projectId, taskId } = ids('two');
      await api.deliver(JSON.stringify({ taskId, status: 'succeeded', assets }));
      await api.deliver(JSON.stringify({ taskId, status: 'failed', error: 'late failure' }));
      await api.post(`/v1/accounts/${accountId}/grants`, { amount: 100, source: 'purchase' });
      await api.post('/v1/projects', { projectId, accountId, cost: COST, externalTaskId: taskId });
      const applied = async () =>
        (await api.get('/v1/webhooks/unmatched?status=applied&limit=500', 'audit')).body.items.filter(
          (item: { taskId: string }) => item.taskId === taskId,
        );
      expect(await within(APPLIED_MS_MAX, async () => (await applied()).length === 2)).toBeDefined();
      expect((await applied()).map((item: { appliedStatus: number }) => item.appliedStatus).sort()).toEqual([200, 409]);
      expect(await eventTypes(t.runtime.databaseUrl, `project-${projectId}`)).toEqual([
        'ProjectStarted',
        'ProjectCompleted',
      ]);
    });

    it('applies each exactly once when deliveries and starts race', async () => {
      const api = injected(t);
      const projects = Array.from({ length: 8 }, () => ids('race'));
      for (const { accountId } of projects) {
        await api.post(`/v1/accounts/${accountId}/grants`, { amount: 100, source: 'purchase' });
      }
      await Promise.all(
        projects.flatMap(({ accountId, projectId, taskId }) => [
          api.deliver(JSON.stringify({ taskId, status: 'succeeded', assets })),
          api.post('/v1/projects', { projectId, accountId, cost: COST, externalTaskId: taskId }),
        ]),
      );
      for (const { projectId } of projects) {
        const shown = async () => (await api.get(`/v1/projects/${projectId}`)).body.status === 'completed';
        expect(await within(APPLIED_MS_MAX, shown)).toBeDefined();
        expect(await eventTypes(t.runtime.databaseUrl, `project-${projectId}`)).toEqual([
          'ProjectStarted',
          'ProjectCompleted',
        ]);
      }
    });
  });

  describe('two replicas: the delivery to one, the start to the other', () => {
    let a: TestApp;
    let b: TestApp;
    beforeAll(async () => {
      a = await startTestApp('webhooks_early_a', { env: SECRETS });
      b = await startTestApp('webhooks_early_b', { databaseUrl: a.runtime.databaseUrl, env: SECRETS });
    }, START_TIMEOUT_MS);
    afterAll(async () => {
      await b?.close();
      await a?.close();
    }, START_TIMEOUT_MS);

    it('completes the project within 2 s, exactly once, both ways', async () => {
      await earlyThenStart('ab', a.runtime.databaseUrl, injected(a), injected(b));
      await earlyThenStart('ba', a.runtime.databaseUrl, injected(b), injected(a));
    });
  });

  describe('kept too long', () => {
    const clock = new ManualClock(Date.now());
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp('webhooks_early_expiry', {
        clock,
        env: { ...SECRETS, LEDGER_WEBHOOK_UNMATCHED_DAYS: '2' },
      });
    }, START_TIMEOUT_MS);
    afterAll(() => t?.close());

    const metric = async (status: string) => {
      const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
      const line = text.split('\n').find((l) => l.startsWith(`ledger_provider_deliveries{status="${status}"}`));
      return line === undefined ? undefined : Number(line.split(' ').at(-1));
    };

    it('is marked expired after LEDGER_WEBHOOK_UNMATCHED_DAYS, still listed, never applied; /metrics counts each status', async () => {
      const api = injected(t, clock);
      const stale = ids('stale');
      const fresh = ids('fresh');
      await api.deliver(JSON.stringify({ taskId: stale.taskId, status: 'succeeded', assets }));
      clock.advanceSeconds(2 * 24 * 3600 - 60);
      await api.deliver(JSON.stringify({ taskId: fresh.taskId, status: 'succeeded', assets }));
      clock.advanceSeconds(120);
      const reactor = t.app.get(EarlyDeliveries);
      expect(await reactor.fullPass()).toMatchObject({ expired: 1, applied: 0, errors: 0 });
      const listed = (await api.get('/v1/webhooks/unmatched', 'audit')).body.items;
      expect(listed.map((item: { taskId: string; status: string }) => [item.taskId, item.status])).toEqual([
        [fresh.taskId, 'kept'],
        [stale.taskId, 'expired'],
      ]);
      expect(listed[1].expiredAt).toBe(clock.now().toISOString());
      expect(await metric('kept')).toBe(1);
      expect(await metric('expired')).toBe(1);
      expect(await metric('applied')).toBe(0);

      for (const { accountId, projectId, taskId } of [stale, fresh]) {
        await api.post(`/v1/accounts/${accountId}/grants`, { amount: 100, source: 'purchase' });
        await api.post('/v1/projects', { projectId, accountId, cost: COST, externalTaskId: taskId });
      }
      const shown = async () => (await api.get(`/v1/projects/${fresh.projectId}`)).body.status === 'completed';
      expect(await within(APPLIED_MS_MAX, shown)).toBeDefined();
      // The full pass looks at every kept delivery again: the expired one is not among them.
      expect(await reactor.fullPass()).toMatchObject({ expired: 0, applied: 0, errors: 0 });
      expect((await api.get(`/v1/projects/${stale.projectId}`)).body.status).toBe('pending');
      expect(await eventTypes(t.runtime.databaseUrl, `project-${stale.projectId}`)).toEqual(['ProjectStarted']);
      expect(await metric('applied')).toBe(1);
      expect(await metric('kept')).toBe(0);
      const counters = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
      expect(counters).toMatch(/ledger_provider_deliveries_total\{outcome="expired"\} 1/);
      expect(counters).toMatch(/ledger_provider_deliveries_total\{outcome="kept"\} [1-9]/);
    });
  });

  describe('the service killed (SIGKILL) between the delivery and the start', () => {
    let build: Awaited<ReturnType<typeof buildServiceTree>>;
    let service: ServiceProcess | undefined;
    beforeAll(async () => {
      build = await buildServiceTree();
    }, 180_000);
    // Each test's last process is killed after it: the next test starts its own.
    afterEach(async () => {
      await service?.kill();
      service = undefined;
    });
    afterAll(() => build?.remove());

    it('completes the project within 2 s of its start after the restart, exactly once', async () => {
      const databaseUrl = await createTestDatabase('webhooks_early_kill');
      const env = { ...SECRETS, LEDGER_API_KEYS: `admin:${PROCESS_KEY}:admin` };
      service = await startServiceProcess(build.tree, { databaseUrl, env });
      const api = overHttp(() => service!);
      await earlyThenStart('kill', databaseUrl, api, api, async () => {
        await service!.kill();
        service = await startServiceProcess(build.tree, { databaseUrl, env });
      });
    }, 120_000);

    it('applies it exactly once when the service is killed right after answering the start', async () => {
      const databaseUrl = await createTestDatabase('webhooks_early_kill_after');
      const env = { ...SECRETS, LEDGER_API_KEYS: `admin:${PROCESS_KEY}:admin` };
      service = await startServiceProcess(build.tree, { databaseUrl, env });
      const api = overHttp(() => service!);
      const { accountId, projectId, taskId } = ids('kill-after');
      expect(await api.deliver(JSON.stringify({ taskId, status: 'succeeded', assets }))).toMatchObject({ status: 202 });
      await api.post(`/v1/accounts/${accountId}/grants`, { amount: 100, source: 'purchase' });
      const start = await api.post('/v1/projects', { projectId, accountId, cost: COST, externalTaskId: taskId });
      expect(start.status).toBe(201);
      // Killed whether or not the reactor applied the delivery yet: either way, once.
      await service.kill();
      service = await startServiceProcess(build.tree, { databaseUrl, env });
      const shown = async () => (await api.get(`/v1/projects/${projectId}`)).body.status === 'completed';
      expect(await within(APPLIED_MS_MAX, shown)).toBeDefined();
      expect((await api.get(`/v1/projects/${projectId}`)).body.assets).toMatchObject(assets);
      expect(await eventTypes(databaseUrl, `project-${projectId}`)).toEqual(['ProjectStarted', 'ProjectCompleted']);
      expect(await eventTypes(databaseUrl, `account-${accountId}`)).toEqual(['CreditsGranted', 'Debited']);
    }, 120_000);
  });
});
