import type { StoredEvent } from '@ledger/event-store';
import { WatchdogService, type WatchdogStatus } from '@ledger/ledger-api';
import { client, ManualClock, startTestApp, type TestApp } from '@ledger/test-support';

type Api = ReturnType<typeof client>;

/** Resolves once the watchdog's status satisfies `predicate` (checked now and on every change). */
function until(
  watchdog: WatchdogService,
  predicate: (status: WatchdogStatus) => boolean,
  timeoutMs = 10_000,
): Promise<WatchdogStatus> {
  return new Promise((resolve, reject) => {
    if (predicate(watchdog.status())) return resolve(watchdog.status());
    const timer = setTimeout(() => {
      off();
      reject(new Error(`watchdog status never matched; last: ${JSON.stringify(watchdog.status())}`));
    }, timeoutMs);
    const off = watchdog.onStatus((status) => {
      if (!predicate(status)) return;
      clearTimeout(timer);
      off();
      resolve(status);
    });
  });
}

/** Resolves once `check` holds, checking again every few milliseconds; fails after `timeoutMs`. */
async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('the condition never held');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Lets the event loop turn `n` times: a random interleaving without timers. */
async function ticks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** A query once the read models include every event appended so far (read-your-writes). */
async function read(api: Api, url: string) {
  return api.get(`${url}?minPosition=${await api.head()}`);
}

async function stream(t: TestApp, name: string): Promise<StoredEvent[]> {
  return t.runtime.eventStore.readStream(name, { limit: 1000 });
}

async function refundsOf(t: TestApp, projectId: string, accountId: string): Promise<StoredEvent[]> {
  return (await stream(t, `account-${accountId}`)).filter(
    (e) => e.type === 'Refunded' && e.data.projectId === projectId,
  );
}

async function terminalEventsOf(t: TestApp, projectId: string): Promise<StoredEvent[]> {
  return (await stream(t, `project-${projectId}`)).filter(
    (e) => e.type === 'ProjectCompleted' || e.type === 'ProjectFailed',
  );
}

describe('the watchdog: no dead projects', () => {
  const clock = new ManualClock();
  let t: TestApp;
  let api: Api;
  let watchdog: WatchdogService;

  beforeAll(async () => {
    // A long interval: after its first sweep the watchdog sweeps when a test says so.
    t = await startTestApp('watchdog', {
      clock,
      env: {
        LEDGER_WATCHDOG_INTERVAL_MS: String(60 * 60 * 1000),
        LEDGER_ATTEMPTS_MAX: '2',
        LEDGER_DEADLINE_SECONDS_DEFAULT: '600',
      },
    });
    api = client(t);
    watchdog = t.app.get(WatchdogService);
    await until(watchdog, (s) => s.role === 'active' && s.sweeps >= 1);
  });
  afterAll(async () => {
    await t.close();
  });

  async function claimedProject(id: string, cost: number, start: Record<string, unknown> = {}, leaseSeconds = 60) {
    expect((await api.post(`/v1/accounts/${id}/grants`, { amount: 100, source: 'purchase' })).status).toBe(201);
    const started = await api.post('/v1/projects', { projectId: `${id}-p`, accountId: id, cost, ...start });
    expect(started.status).toBe(201);
    const claim = await api.post(`/v1/projects/${id}-p/claim`, { workerId: `${id}-w1`, leaseSeconds });
    expect(claim.status).toBe(200);
    return { accountId: id, projectId: `${id}-p`, startedAt: clock.now() };
  }

  it('(a) fails a claimed project whose worker vanished once its deadline passes, refunding it exactly once', async () => {
    const { accountId, projectId, startedAt } = await claimedProject('wd-a', 40);
    // No deadlineSeconds in the start: LEDGER_DEADLINE_SECONDS_DEFAULT applies.
    const deadlineAt = new Date(startedAt.getTime() + 600_000).toISOString();
    expect((await read(api, `/v1/projects/${projectId}`)).body).toMatchObject({ status: 'processing', deadlineAt });

    // The lease ran out long ago, but attempt 1 of 2 may still be claimed again: not yet.
    clock.advanceSeconds(599);
    expect(await watchdog.sweep()).toMatchObject({ swept: true, failed: 0, errors: 0 });
    expect((await read(api, `/v1/projects/${projectId}`)).body.status).toBe('processing');

    clock.advanceSeconds(1);
    expect(await watchdog.sweep()).toMatchObject({ swept: true, failed: 1, errors: 0 });
    // Again at once (the read model may not show the failure yet) and once it does.
    expect(await watchdog.sweep()).toMatchObject({ failed: 0, errors: 0 });
    const project = (await read(api, `/v1/projects/${projectId}`)).body;
    expect(await watchdog.sweep()).toMatchObject({ due: 0, failed: 0, errors: 0 });

    expect(project).toMatchObject({ status: 'failed', errorCode: 'deadline_exceeded', refunded: 40 });
    expect(project.errorMessage).toContain(deadlineAt);
    expect((await read(api, `/v1/accounts/${accountId}`)).body).toMatchObject({ balance: 100, totalRefunded: 40 });
    const refunds = await refundsOf(t, projectId, accountId);
    // Back to the one lot the start drew from (the grant named after its Idempotency-Key).
    expect(refunds.map((e) => e.data)).toEqual([
      { amount: 40, projectId, reason: 'project_failed', lots: [{ grantId: expect.any(String), amount: 40 }] },
    ]);
    const [failed] = await terminalEventsOf(t, projectId);
    expect(failed).toMatchObject({ type: 'ProjectFailed', metadata: { caller: 'watchdog' } });
    expect(failed!.metadata.idempotencyKey).toBe(`expire:${projectId}:1:deadline_exceeded`);

    // The vanished worker comes back too late: refused, nothing appended.
    const head = await api.head();
    const late = await api.post(`/v1/projects/${projectId}/complete`, { attempt: 1 });
    expect(late).toMatchObject({ status: 409, body: { error: { code: 'invalid_transition' } } });
    expect(await api.head()).toBe(head);
    expect(watchdog.status()).toMatchObject({ role: 'active', lastError: null });
    expect(watchdog.status().projectsFailed).toBeGreaterThanOrEqual(1);
  });

  it('(b) fails a project whose last allowed attempt let its lease expire, with its refund', async () => {
    const { accountId, projectId } = await claimedProject('wd-b', 30, { deadlineSeconds: 3600 }, 30);
    clock.advanceSeconds(30);
    await read(api, `/v1/projects/${projectId}`);
    // Attempt 1 of 2 expired: another worker may still claim it.
    expect(await watchdog.sweep()).toMatchObject({ failed: 0, errors: 0 });
    const second = await api.post(`/v1/projects/${projectId}/claim`, { workerId: 'wd-b-w2', leaseSeconds: 30 });
    expect(second.body).toMatchObject({ status: 'processing', attempt: 2 });

    clock.advanceSeconds(29);
    await read(api, `/v1/projects/${projectId}`);
    expect(await watchdog.sweep()).toMatchObject({ failed: 0, errors: 0 });
    expect((await read(api, `/v1/projects/${projectId}`)).body.status).toBe('processing');

    clock.advanceSeconds(1);
    expect(await watchdog.sweep()).toMatchObject({ failed: 1, errors: 0 });
    expect(await watchdog.sweep()).toMatchObject({ failed: 0, errors: 0 });
    expect((await read(api, `/v1/projects/${projectId}`)).body).toMatchObject({
      status: 'failed',
      errorCode: 'attempts_exhausted',
      errorMessage: 'attempt 2 of 2 let its lease expire',
      refunded: 30,
    });
    expect((await read(api, `/v1/accounts/${accountId}`)).body.balance).toBe(100);
    expect(await refundsOf(t, projectId, accountId)).toHaveLength(1);
    const [failed] = await terminalEventsOf(t, projectId);
    expect(failed!.metadata.idempotencyKey).toBe(
      `expire:${projectId}:2:attempts_exhausted:${second.body.leaseExpiresAt as string}`,
    );
  });

  describe('(c) a worker completing as the watchdog fails the project', () => {
    let other: TestApp;
    let otherApi: Api;
    let n = 0;

    beforeAll(async () => {
      // A second replica on the same database for the worker: the fence between two
      // processes is the stream revision alone, not this process's per-stream queue.
      other = await startTestApp('watchdog_worker', {
        databaseUrl: t.runtime.databaseUrl,
        clock,
        env: { LEDGER_WATCHDOG: 'off' },
      });
      otherApi = client(other);
      expect(other.app.get(WatchdogService).status().role).toBe('off');
    });
    afterAll(async () => {
      await other.close();
    });

    type Outcome = 'completed' | 'failed';

    /** One race: exactly one terminal state, and the balance that state implies. */
    async function race(order: 'complete-first' | 'sweep-first' | 'random', worker: Api): Promise<Outcome> {
      const { accountId, projectId } = await claimedProject(`wd-c-${++n}`, 50, { deadlineSeconds: 60 }, 600);
      await read(api, `/v1/projects/${projectId}`);
      clock.advanceSeconds(60);
      const complete = () => worker.post(`/v1/projects/${projectId}/complete`, { attempt: 1, creditsUsed: 20 });
      let completion;
      if (order === 'complete-first') {
        completion = await complete();
        await watchdog.sweep();
      } else if (order === 'sweep-first') {
        await watchdog.sweep();
        completion = await complete();
      } else {
        const [a, b] = [Math.floor(Math.random() * 40), Math.floor(Math.random() * 40)];
        [completion] = await Promise.all([ticks(a).then(complete), ticks(b).then(() => watchdog.sweep())]);
      }
      const terminal = await terminalEventsOf(t, projectId);
      expect(terminal).toHaveLength(1);
      const refunds = await refundsOf(t, projectId, accountId);
      const balance = (await read(api, `/v1/accounts/${accountId}`)).body.balance;
      const project = (await read(api, `/v1/projects/${projectId}`)).body;
      if (completion.status === 200) {
        expect(completion.body).toMatchObject({ status: 'completed', refunded: 30 });
        expect(terminal[0]!.type).toBe('ProjectCompleted');
        expect(project).toMatchObject({ status: 'completed', creditsUsed: 20, refunded: 30 });
        expect(refunds.map((e) => e.data.amount)).toEqual([30]);
        expect(balance).toBe(80);
        return 'completed';
      }
      expect(completion).toMatchObject({ status: 409, body: { error: { code: 'invalid_transition' } } });
      expect(terminal[0]).toMatchObject({ type: 'ProjectFailed', data: { code: 'deadline_exceeded' } });
      expect(project).toMatchObject({ status: 'failed', refunded: 50 });
      expect(refunds.map((e) => e.data.amount)).toEqual([50]);
      expect(balance).toBe(100);
      return 'failed';
    }

    it('either order ends in one terminal state: the first wins, the second appends nothing', async () => {
      expect(await race('complete-first', api)).toBe('completed');
      expect(await race('sweep-first', api)).toBe('failed');
      expect(await race('complete-first', otherApi)).toBe('completed');
      expect(await race('sweep-first', otherApi)).toBe('failed');
    });

    it('30 random interleavings, on this replica and another: never both, never neither', async () => {
      const outcomes: Outcome[] = [];
      for (let i = 0; i < 30; i++) outcomes.push(await race('random', i % 2 === 0 ? api : otherApi));
      expect(outcomes).toHaveLength(30);
      expect(watchdog.status().lastError).toBeNull();
    }, 60_000);
  });
});

describe('the watchdog across two replicas', () => {
  it('(d) runs on one of them; when that one stops, the other takes over and sweeps', async () => {
    const clock = new ManualClock();
    const env = { LEDGER_WATCHDOG_INTERVAL_MS: '20' };
    const first = await startTestApp('watchdog_replicas', { clock, env });
    const second = await startTestApp('watchdog_replicas_b', { databaseUrl: first.runtime.databaseUrl, clock, env });
    const replicas = [first, second];
    try {
      const [a, b] = replicas.map((r) => r.app.get(WatchdogService)) as [WatchdogService, WatchdogService];
      await until(a, (s) => s.role !== 'off' && (s.role === 'active' || b.status().role === 'active'));
      const activeIndex = a.status().role === 'active' ? 0 : 1;
      const [active, standby] = [replicas[activeIndex]!, replicas[1 - activeIndex]!];
      const standbyWatchdog = standby.app.get(WatchdogService);
      await until(standbyWatchdog, (s) => s.role === 'standby');

      // Health shows who holds the lock; the standby does not sweep.
      const roleOf = async (r: TestApp) =>
        (await r.app.inject({ method: 'GET', url: '/health/ready' })).json().details.watchdog.role as string;
      expect(await roleOf(active)).toBe('active');
      expect(await roleOf(standby)).toBe('standby');
      expect(await standbyWatchdog.sweep()).toEqual({ swept: false, due: 0, failed: 0, errors: 0 });
      expect(standbyWatchdog.status().sweeps).toBe(0);

      const api = client(standby);
      await api.post('/v1/accounts/wd-d/grants', { amount: 100, source: 'purchase' });
      await api.post('/v1/projects', { projectId: 'wd-d-p', accountId: 'wd-d', cost: 70, deadlineSeconds: 60 });
      await read(api, '/v1/projects/wd-d-p');

      await active.close();
      replicas.splice(activeIndex, 1);
      await until(standbyWatchdog, (s) => s.role === 'active');
      expect(await roleOf(standby)).toBe('active');

      clock.advanceSeconds(60);
      await until(standbyWatchdog, (s) => s.projectsFailed >= 1);
      expect((await read(api, '/v1/projects/wd-d-p')).body).toMatchObject({
        status: 'failed',
        errorCode: 'deadline_exceeded',
        refunded: 70,
      });
      expect((await read(api, '/v1/accounts/wd-d')).body.balance).toBe(100);
      expect(await refundsOf(standby, 'wd-d-p', 'wd-d')).toHaveLength(1);
    } finally {
      for (const replica of replicas) await replica.close();
    }
  }, 30_000);

  it('notices a lost lock session and takes the lock again', async () => {
    const t = await startTestApp('watchdog_lost_lock', { env: { LEDGER_WATCHDOG_INTERVAL_MS: '20' } });
    try {
      const watchdog = t.app.get(WatchdogService);
      await until(watchdog, (s) => s.role === 'active');
      const holder = async () => {
        const { rows } = await t.runtime.pool.query<{ pid: number }>(
          `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = 7245300 AND objid = 1`,
        );
        return rows[0]?.pid;
      };
      const before = await holder();
      expect(before).toEqual(expect.any(Number));
      const standby = until(watchdog, (s) => s.role === 'standby');
      await t.runtime.pool.query('SELECT pg_terminate_backend($1)', [before]);
      await standby;
      await eventually(async () => {
        const now = await holder();
        return now !== undefined && now !== before;
      });
      const sweeps = watchdog.status().sweeps;
      await until(watchdog, (s) => s.role === 'active' && s.sweeps > sweeps);
    } finally {
      await t.close();
    }
  });
});
