import { KurrentDbDouble } from '@ledger/event-store/testing';
import { client, startTestApp, type TestApp } from '@ledger/test-support';

/**
 * The service on the KurrentDB double, for what only KurrentDB does: readiness that names
 * why the store cannot serve (a secured cluster refusing $all), lag in bytes of log, audit
 * positions that are not events. (The main stories run on the double in the
 * "e2e (kurrentdb double)" jest project.)
 */
describe('the service on KurrentDB (double)', () => {
  let double: KurrentDbDouble;
  let t: TestApp;
  beforeAll(async () => {
    double = await KurrentDbDouble.start();
    t = await startTestApp('on_kurrentdb', {
      env: { LEDGER_EVENT_STORE: 'kurrentdb', EVENTSTORE_CONNECTION_STRING: double.connectionString },
    });
  });
  afterAll(async () => {
    await t.close();
    await double.stop();
  });

  it('is ready, and reports projection lag in positions of log bytes, not as events', async () => {
    const api = client(t);
    const granted = await api.post('/v1/accounts/acc-h/grants', { amount: 10, source: 'promo' });
    expect(granted.status).toBe(201);
    const ready = await t.app.inject({ method: 'GET', url: '/health/ready' });
    expect(ready.statusCode).toBe(200);
    const projections = ready.json().details.projections;
    expect(projections).toMatchObject({ status: 'up', positionUnit: 'bytes' });
    expect(projections).toHaveProperty('lagPositions');
    expect(projections).not.toHaveProperty('lagEvents');
  });

  it('answers an audit fromPosition that is no event of the log with 400, as pages and as NDJSON', async () => {
    const api = client(t);
    await api.post('/v1/accounts/acc-h/grants', { amount: 5, source: 'promo' });
    const head = Number(await api.head());
    const page = await api.get(`/v1/audit/events?fromPosition=${head - 1}`, { key: t.keys.audit });
    expect(page).toMatchObject({ status: 400, body: { error: { code: 'validation_failed' } } });
    const streamed = await t.app.inject({
      method: 'GET',
      url: `/v1/audit/events?fromPosition=${head - 1}`,
      headers: { authorization: `Bearer ${t.keys.audit}`, accept: 'application/x-ndjson' },
    });
    expect(streamed.statusCode).toBe(400);
  });

  it('is not ready (503) when the user may not read $all, and says so', async () => {
    double.denyAllReads = true;
    try {
      const ready = await t.app.inject({ method: 'GET', url: '/health/ready' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json().error.eventStore.status).toBe('down');
      expect(ready.json().error.eventStore.message).toMatch(/read \$all/);
    } finally {
      double.denyAllReads = false;
    }
  });
});
