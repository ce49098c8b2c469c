import { client, startTestApp, type TestApp } from '@ledger/test-support';

describe('health', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp('health');
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers live and ready without an API key when the stores are up', async () => {
    const live = await t.app.inject({ method: 'GET', url: '/health/live' });
    expect(live.statusCode).toBe(200);
    const ready = await t.app.inject({ method: 'GET', url: '/health/ready' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({
      status: 'ok',
      details: { eventStore: { status: 'up' }, database: { status: 'up' } },
    });
  });

  it('serves the OpenAPI document without a key', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/docs-json' });
    expect(response.statusCode).toBe(200);
    expect(response.json().paths).toHaveProperty('/health/ready');
  });

  it('serves Prometheus metrics without a key: every append in a commit group, every request by route and status', async () => {
    const sample = async (name: string, labels: string) => {
      const response = await t.app.inject({ method: 'GET', url: '/metrics' });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toContain('text/plain');
      const prefix = labels ? `${name}{${labels}} ` : `${name} `;
      const line = response.body.split('\n').find((l) => l.startsWith(prefix));
      return line ? Number(line.split(' ')[1]) : 0;
    };
    const grants = 'method="POST",route="/v1/accounts/:accountId/grants",status="201"';
    const [appendsBefore, groupsBefore, requestsBefore] = await Promise.all([
      sample('ledger_event_store_append_group_size_sum', 'outcome="together"'),
      sample('ledger_event_store_append_group_size_count', 'outcome="together"'),
      sample('ledger_http_request_duration_seconds_count', grants),
    ]);
    const api = client(t);
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        api.post(`/v1/accounts/metrics-${i}/grants`, { amount: 5, source: 'promo' }),
      ),
    );
    expect(replies.map((r) => r.status)).toEqual(Array(20).fill(201));
    expect((await sample('ledger_event_store_append_group_size_sum', 'outcome="together"')) - appendsBefore).toBe(20);
    const groups = (await sample('ledger_event_store_append_group_size_count', 'outcome="together"')) - groupsBefore;
    expect(groups).toBeGreaterThanOrEqual(1);
    expect(groups).toBeLessThanOrEqual(20);
    expect((await sample('ledger_http_request_duration_seconds_count', grants)) - requestsBefore).toBe(20);
    // Node's own metrics come along (prom-client's defaults).
    expect(await sample('process_cpu_seconds_total', '')).toBeGreaterThan(0);
  });

  it('reports not ready (503) once the database is unreachable', async () => {
    const other = await startTestApp('health_down');
    try {
      await other.runtime.pool.end();
      await other.runtime.eventStore.close();
      const ready = await other.app.inject({ method: 'GET', url: '/health/ready' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json()).toMatchObject({ status: 'error', error: { database: { status: 'down' } } });
    } finally {
      await other.app.close();
    }
  });
});
