import { retryAfterMsOf, retryingFetch } from './retry.js';

/** A fetch that answers from a script and records what it was sent. */
function scripted(answers: (Response | Error)[]) {
  const sent: Request[] = [];
  const fetchImpl = async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    sent.push(new Request(input, init));
    const answer = answers.shift();
    if (answer === undefined) throw new Error('no answer left in the script');
    if (answer instanceof Error) throw answer;
    return answer;
  };
  return { sent, fetchImpl: fetchImpl as typeof fetch };
}

const command = () =>
  new Request('http://ledger.test/v1/accounts/a/grants', {
    method: 'POST',
    headers: { 'idempotency-key': 'k-1', 'content-type': 'application/json' },
    body: JSON.stringify({ amount: 5, source: 'promo' }),
  });

describe('retryingFetch', () => {
  it('sends a command again after a 503 with the same Idempotency-Key and body, after Retry-After', async () => {
    const { sent, fetchImpl } = scripted([
      new Response('{}', { status: 503, headers: { 'retry-after': '2' } }),
      new Response('{"balance":5}', { status: 201 }),
    ]);
    const waits: number[] = [];
    const retrying = retryingFetch({ sleep: async (ms) => void waits.push(ms) }, fetchImpl);
    const response = await retrying(command());
    expect(response.status).toBe(201);
    expect(sent.map((r) => r.headers.get('idempotency-key'))).toEqual(['k-1', 'k-1']);
    expect(await Promise.all(sent.map((r) => r.text()))).toEqual([
      '{"amount":5,"source":"promo"}',
      '{"amount":5,"source":"promo"}',
    ]);
    expect(waits).toEqual([2000]);
  });

  it('sends a command again after a 409 request_in_flight, and hands any other 409 back', async () => {
    const inFlight = () =>
      new Response('{"error":{"code":"request_in_flight","message":"m"}}', {
        status: 409,
        headers: { 'retry-after': '1' },
      });
    const { sent, fetchImpl } = scripted([
      inFlight(),
      new Response('{"balance":5}', { status: 201 }),
      inFlight(),
      new Response('{"error":{"code":"lease_held","message":"m"}}', { status: 409 }),
    ]);
    const waits: number[] = [];
    const retrying = retryingFetch({ sleep: async (ms) => void waits.push(ms) }, fetchImpl);
    expect((await retrying(command())).status).toBe(201);
    expect(sent.map((r) => r.headers.get('idempotency-key'))).toEqual(['k-1', 'k-1']);
    expect(waits).toEqual([1000]);
    const refused = await retrying(command());
    expect(refused.status).toBe(409);
    // The body is still the caller's to read.
    expect(await refused.json()).toEqual({ error: { code: 'lease_held', message: 'm' } });
    expect(sent).toHaveLength(4);
  });

  it('retries 429 and network errors with jittered, growing waits, and stops at attemptsMax', async () => {
    const { sent, fetchImpl } = scripted([
      new TypeError('fetch failed'),
      new Response('{}', { status: 429 }),
      new Response('{}', { status: 503 }),
      new Response('{}', { status: 503 }),
    ]);
    const waits: number[] = [];
    const retrying = retryingFetch(
      { attemptsMax: 4, delayMsBase: 100, sleep: async (ms) => void waits.push(ms), random: () => 0.5 },
      fetchImpl,
    );
    const response = await retrying(command());
    expect(response.status).toBe(503);
    expect(sent).toHaveLength(4);
    expect(waits).toEqual([50, 100, 200]);
  });

  it('caps Retry-After at delayMsMax', async () => {
    const { fetchImpl } = scripted([
      new Response('{}', { status: 503, headers: { 'retry-after': '3600' } }),
      new Response('{}', { status: 200 }),
    ]);
    const waits: number[] = [];
    await retryingFetch(
      { delayMsMax: 1_000, sleep: async (ms) => void waits.push(ms) },
      fetchImpl,
    )('http://ledger.test/v1/accounts/a');
    expect(waits).toEqual([1_000]);
  });

  it('never sends again a POST without an Idempotency-Key, nor answers that are not 429/503', async () => {
    const unkeyed = scripted([new TypeError('fetch failed')]);
    const post = new Request('http://ledger.test/v1/webhooks/p', { method: 'POST', body: '{}' });
    await expect(retryingFetch({ sleep: async () => undefined }, unkeyed.fetchImpl)(post)).rejects.toThrow(
      'fetch failed',
    );
    expect(unkeyed.sent).toHaveLength(1);
    const refused = scripted([new Response('{}', { status: 409 })]);
    expect((await retryingFetch({}, refused.fetchImpl)(command())).status).toBe(409);
    expect(refused.sent).toHaveLength(1);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(retryAfterMsOf('3')).toBe(3000);
    expect(retryAfterMsOf(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(retryAfterMsOf('soon')).toBeUndefined();
    expect(retryAfterMsOf(null)).toBeUndefined();
  });
});
