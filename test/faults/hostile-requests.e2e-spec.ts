import fc from 'fast-check';
import { client, startTestApp, type TestApp } from '@ledger/test-support';
import { hostileRequest, LEAKS, operationsOf, type HostileRequest, type OpenApiDocument } from './hostile-requests.js';

// 2,000 in `npm test`; `npm run fuzz` sets 10,000 (FUZZ_RUNS).
const RUNS = Number(process.env.FUZZ_RUNS ?? 2_000);
const PROVIDER = 'fuzzprov';
const PROVIDER_SECRET = 'fuzz_provider_secret_0123456789';

/**
 * Hostile requests over every operation of the served OpenAPI document, under every
 * scope: no answer is a 5xx, none shows a stack trace or SQL, and no refusal moves the
 * store's head.
 */
describe('hostile requests', () => {
  let t: TestApp;
  let api: ReturnType<typeof client>;
  let document: OpenApiDocument;
  const seen = { requests: 0, refused: 0, accepted: 0, byStatus: new Map<number, number>() };

  beforeAll(async () => {
    t = await startTestApp('hostile', {
      env: {
        LEDGER_WATCHDOG: 'off',
        LEDGER_RATE_LIMIT_PER_SECOND: '100000',
        LEDGER_WEBHOOK_SECRETS: `${PROVIDER}:${PROVIDER_SECRET}`,
      },
    });
    api = client(t);
    document = (await t.app.inject({ method: 'GET', url: '/docs-json' })).json();
    // Ids that exist, so that requests also get past the lookups.
    await api.post('/v1/accounts/acc-1/grants', { amount: 1000, source: 'purchase', grantId: 'g-1' });
    await api.post('/v1/projects', { projectId: 'prj-1', accountId: 'acc-1', cost: 10, externalTaskId: 'task-1' });
    await api.post('/v1/projects/prj-1/claim', { workerId: 'w', leaseSeconds: 600 });
  });
  afterAll(async () => {
    await t?.close();
    process.stdout.write(
      `hostile requests: ${seen.requests} sent, ${seen.refused} refused, ${seen.accepted} accepted; by status ${JSON.stringify(Object.fromEntries(seen.byStatus))}\n`,
    );
  });

  it('lists the operations of the document (commands, queries, audit, keys, webhooks)', () => {
    const operations = operationsOf(document).map((o) => `${o.method} ${o.path}`);
    expect(operations.length).toBeGreaterThanOrEqual(25);
    expect(operations).toEqual(
      expect.arrayContaining([
        'POST /v1/accounts/{accountId}/grants',
        'POST /v1/projects/{projectId}/complete',
        'POST /v1/webhooks/{provider}',
        'POST /v1/api-keys/{keyId}/revoke',
        'GET /v1/audit/streams/{streamName}',
      ]),
    );
  });

  it(
    `answers ${RUNS} hostile requests with no 5xx, no stack or SQL, and no append on a refusal`,
    async () => {
      const operations = operationsOf(document);
      const arbitrary = hostileRequest(operations, {
        keys: t.keys,
        existingIds: ['acc-1', 'prj-1', 'g-1', 'account-acc-1', 'project-prj-1', PROVIDER, 'key_x', 'config:test-read'],
        provider: PROVIDER,
        providerSecret: PROVIDER_SECRET,
      });
      await fc.assert(
        fc.asyncProperty(arbitrary, async (request) => {
          const problem = await check(request);
          if (problem) throw new Error(`${problem}\n${request.shape}\n${request.method} ${request.url.slice(0, 300)}`);
        }),
        { numRuns: RUNS, endOnFailure: true },
      );
    },
    Math.max(120_000, RUNS * 60),
  );

  /** What is wrong with the answer to `request`, if anything. */
  async function check(request: HostileRequest): Promise<string | undefined> {
    const head = await api.head();
    const response = await t.app.inject({
      method: request.method,
      url: request.url,
      headers: request.headers,
      ...(request.payload === undefined ? {} : { payload: request.payload }),
    });
    seen.requests++;
    seen.byStatus.set(response.statusCode, (seen.byStatus.get(response.statusCode) ?? 0) + 1);
    // The one 5xx of the contract: a position the read models have not reached yet (API.md), with Retry-After.
    const behind = response.statusCode === 503 && response.json().error?.code === 'projection_behind';
    if (behind && !response.headers['retry-after']) return `503 projection_behind without Retry-After`;
    if (response.statusCode >= 500 && !behind) return `answered ${response.statusCode}: ${response.body.slice(0, 500)}`;
    const leak = LEAKS.find((pattern) => pattern.test(response.body));
    if (leak) return `the answer shows ${leak}: ${response.body.slice(0, 500)}`;
    if (response.statusCode >= 400) {
      seen.refused++;
      const after = await api.head();
      if (after !== head) return `refused with ${response.statusCode} but the head moved from ${head} to ${after}`;
    } else {
      seen.accepted++;
    }
    return undefined;
  }
});
