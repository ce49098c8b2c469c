import { StoreUnavailableError } from '@ledger/event-store';
import {
  LedgerError,
  ReadYourWrites,
  accountsDebit,
  accountsGet,
  accountsGrant,
  accountsLedger,
  createLedgerClient,
  newIdempotencyKey,
  unwrap,
  type GrantAnswer,
} from '@ledger/client';
import { startTestApp, type TestApp } from '@ledger/test-support';

/** The typed client (@ledger/client) against the real service over HTTP. */
describe('@ledger/client', () => {
  let t: TestApp;
  let baseUrl: string;
  beforeAll(async () => {
    t = await startTestApp('client');
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    baseUrl = await t.app.getUrl();
  });
  afterAll(async () => {
    await t.close();
  });

  /** The event store fails the next append once: `before` it writes, or `after` (the answer is lost). */
  function failNextAppend(when: 'before' | 'after'): { failures: () => number } {
    const store = t.runtime.eventStore;
    const append = store.append.bind(store);
    let failures = 0;
    store.append = async (streams) => {
      store.append = append;
      failures += 1;
      if (when === 'after') await append(streams);
      throw new StoreUnavailableError('injected: the store went away');
    };
    return { failures: () => failures };
  }

  it.each(['before', 'after'] as const)(
    'retries a 503 (store down %s the append) with the same Idempotency-Key, and the grant is applied once',
    async (when) => {
      const sent: Request[] = [];
      const client = createLedgerClient({
        baseUrl,
        apiKey: t.keys.admin,
        // The service says Retry-After: 2; the test bounds the wait, the retry still honours the answer.
        retry: { delayMsMax: 20 },
        fetch: async (input, init) => {
          const request = new Request(input, init);
          sent.push(request.clone());
          return fetch(request);
        },
      });
      const accountId = `client-503-${when}`;
      const injected = failNextAppend(when);
      const key = newIdempotencyKey();
      const answer: GrantAnswer = await unwrap(
        accountsGrant({
          client,
          path: { accountId },
          headers: { 'Idempotency-Key': key },
          body: { amount: 70, source: 'purchase' },
        }),
      );
      expect(injected.failures()).toBe(1);
      expect(sent.map((r) => r.headers.get('idempotency-key'))).toEqual([key, key]);
      expect(answer).toMatchObject({ accountId, balance: 70 });
      expect(Number.isInteger(answer.position)).toBe(true);

      const session = new ReadYourWrites();
      session.observe(answer);
      const account = await unwrap(accountsGet({ client, path: { accountId }, query: session.query() }));
      expect(account.balance).toBe(70);
      const ledger = await unwrap(accountsLedger({ client, path: { accountId }, query: session.query() }));
      expect(ledger.items.map((entry) => [entry.type, entry.amount])).toEqual([['CreditsGranted', 70]]);
    },
  );

  it('throws refusals as LedgerError with the code, details and request id of the error body', async () => {
    const client = createLedgerClient({ baseUrl, apiKey: t.keys.admin });
    const accountId = 'client-refusals';
    await unwrap(
      accountsGrant({
        client,
        path: { accountId },
        headers: { 'Idempotency-Key': newIdempotencyKey() },
        body: { amount: 5, source: 'promo' },
      }),
    );
    const refusal = await unwrap(
      accountsDebit({
        client,
        path: { accountId },
        headers: { 'Idempotency-Key': newIdempotencyKey() },
        body: { amount: 6, reason: 'too much' },
      }),
    ).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(LedgerError);
    expect(refusal).toMatchObject({ status: 402, code: 'insufficient_credits', retryable: false });
    const missing = await unwrap(accountsGet({ client, path: { accountId: 'client-nobody' } })).catch(
      (e: unknown) => e,
    );
    expect(missing).toMatchObject({ status: 404, code: 'not_found' });
  });

  it('with a session, passes the last command position as minPosition to the next query', async () => {
    const urls: string[] = [];
    const session = new ReadYourWrites();
    const client = createLedgerClient({
      baseUrl,
      apiKey: t.keys.admin,
      readYourWrites: session,
      fetch: async (input, init) => {
        const request = new Request(input, init);
        urls.push(`${request.method} ${request.url}`);
        return fetch(request);
      },
    });
    const accountId = 'client-session';
    const grant = await unwrap(
      accountsGrant({
        client,
        path: { accountId },
        headers: { 'Idempotency-Key': newIdempotencyKey() },
        body: { amount: 9, source: 'promo' },
      }),
    );
    expect(session.lastPosition).toBe(grant.position);
    const account = await unwrap(accountsGet({ client, path: { accountId } }));
    expect(account.balance).toBe(9);
    expect(urls.at(-1)).toBe(`GET ${baseUrl}/v1/accounts/${accountId}?minPosition=${grant.position}`);
  });
});
