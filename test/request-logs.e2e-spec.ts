import { Writable } from 'node:stream';
import { startTestApp, type TestApp } from '@ledger/test-support';
import { prettyTransport } from '@ledger/ledger-api';

/** Logs a person can read, and a request followed by its id from the error body to every log line. */
describe('request logs', () => {
  let t: TestApp;
  const lines: Record<string, unknown>[] = [];
  beforeAll(async () => {
    const logStream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line));
        done();
      },
    });
    t = await startTestApp('request_logs', { logStream, requestLogging: true });
  });
  afterAll(async () => {
    await t.close();
  });

  const linesOf = (requestId: string) => lines.filter((line) => JSON.stringify(line).includes(requestId));

  it('returns the request id in error bodies and X-Request-Id, and logs it on every line of the request', async () => {
    // A store failing with an unexpected error: the filter logs it inside the request.
    const store = t.runtime.eventStore;
    const append = store.append.bind(store);
    store.append = async () => {
      store.append = append;
      throw new Error('injected: unexpected');
    };
    const response = await t.app.inject({
      method: 'POST',
      url: '/v1/accounts/logs-1/grants',
      headers: { authorization: `Bearer ${t.keys.grant}`, 'idempotency-key': 'logs-1' },
      payload: { amount: 5, source: 'promo' },
    });
    expect(response.statusCode).toBe(500);
    const body = response.json<{ error: { code: string; message: string; requestId: string } }>();
    expect(body.error).toEqual({ code: 'internal_error', message: 'internal error', requestId: expect.any(String) });
    const requestId = body.error.requestId;
    expect(response.headers['x-request-id']).toBe(requestId);

    const logged = linesOf(requestId);
    expect(logged.map((line) => line['msg'])).toEqual(expect.arrayContaining(['unhandled error']));
    expect(logged.length).toBeGreaterThanOrEqual(2);
    for (const line of logged) expect(line['requestId']).toBe(requestId);
    // Lines of this request that name its route all carry its id.
    const routeLines = lines.filter((line) => JSON.stringify(line).includes('/v1/accounts/logs-1/grants'));
    expect(routeLines.every((line) => line['requestId'] === requestId)).toBe(true);
  });

  it("keeps a caller's X-Request-Id, and adds it to a refusal without changing its fields", async () => {
    const response = await t.app.inject({
      method: 'GET',
      url: '/v1/accounts/logs-nobody',
      headers: { authorization: `Bearer ${t.keys.read}`, 'x-request-id': 'caller-trace-42' },
    });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({
      error: {
        code: 'not_found',
        message: expect.any(String),
        details: expect.anything(),
        requestId: 'caller-trace-42',
      },
    });
    expect(linesOf('caller-trace-42').length).toBeGreaterThanOrEqual(1);
    for (const line of linesOf('caller-trace-42')) expect(line['requestId']).toBe('caller-trace-42');
  });

  it('answers a repeat of a refused command with the same body, the first request id included', async () => {
    const send = (requestId: string) =>
      t.app.inject({
        method: 'POST',
        url: '/v1/accounts/logs-2/debits',
        headers: {
          authorization: `Bearer ${t.keys.debit}`,
          'idempotency-key': 'logs-2',
          'x-request-id': requestId,
        },
        payload: { amount: 5, reason: 'r' },
      });
    const first = (await send('first-try')).json<{ error: { requestId: string } }>();
    const again = (await send('second-try')).json<{ error: { requestId: string } }>();
    expect([first.error.requestId, again.error.requestId]).toEqual(['first-try', 'first-try']);
  });

  it('is pretty on a terminal and JSON otherwise', () => {
    expect(prettyTransport(true)).toMatchObject({ target: 'pino-pretty' });
    expect(prettyTransport(false)).toBeUndefined();
  });
});
