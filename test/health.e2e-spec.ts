import { startTestApp, type TestApp } from '@ledger/test-support';

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
