import type { Scope } from '@ledger/ledger-api';
import { client, ManualClock, startTestApp, type Reply, type TestApp } from '@ledger/test-support';

/**
 * Who may call what, per API.md "Keys and scopes": the rule of every operation of the
 * served OpenAPI document. An operation the document has and this table lacks fails
 * the matrix, so a new endpoint cannot ship without saying who may call it.
 */
type Access = { scope: Scope; body?: unknown } | 'public' | 'signature';
const RULES: Record<string, readonly Access[]> = {
  'GET /health/live': ['public'],
  'GET /health/ready': ['public'],
  'GET /metrics': ['public'],
  'POST /v1/webhooks/{provider}': ['signature'],
  'GET /v1/webhooks/unmatched': [{ scope: 'audit' }],
  'POST /v1/accounts/{accountId}/grants': [{ scope: 'grant', body: { amount: 10, source: 'purchase' } }],
  'POST /v1/accounts/{accountId}/grants/{grantId}/void': [{ scope: 'grant', body: { reason: 'chargeback' } }],
  'POST /v1/accounts/{accountId}/debits': [{ scope: 'debit', body: { amount: 1, reason: 'fee' } }],
  'GET /v1/accounts/{accountId}': [{ scope: 'read' }],
  'GET /v1/accounts/{accountId}/ledger': [{ scope: 'read' }],
  'GET /v1/accounts/{accountId}/projects': [{ scope: 'read' }],
  'GET /v1/accounts/{accountId}/lots': [{ scope: 'read' }],
  'GET /v1/accounts/{accountId}/balance': [{ scope: 'read' }],
  'GET /v1/accounts/{accountId}/statement': [{ scope: 'read' }],
  'POST /v1/projects': [{ scope: 'start', body: { projectId: 'prj-m', accountId: 'acc-m', cost: 1 } }],
  'GET /v1/projects': [{ scope: 'read' }],
  'GET /v1/projects/{projectId}': [{ scope: 'read' }],
  'POST /v1/projects/{projectId}/claim': [{ scope: 'work', body: { workerId: 'w-1', leaseSeconds: 60 } }],
  'POST /v1/projects/{projectId}/heartbeat': [{ scope: 'work', body: { attempt: 1, leaseSeconds: 60 } }],
  'POST /v1/projects/{projectId}/complete': [{ scope: 'work', body: { attempt: 1 } }],
  'POST /v1/projects/{projectId}/fail': [
    // Without an attempt: the owner cancels. With one: the worker fails its attempt.
    { scope: 'start', body: { errorMessage: 'cancelled by the user' } },
    { scope: 'work', body: { attempt: 1, errorMessage: 'provider timed out' } },
  ],
  'POST /v1/projects/{projectId}/assets': [{ scope: 'work', body: { assetUrl: 'https://cdn.example.com/a.png' } }],
  'GET /v1/audit/streams/{streamName}': [{ scope: 'audit' }],
  'GET /v1/audit/events': [{ scope: 'audit' }],
  'GET /v1/audit/reconciliation': [{ scope: 'audit' }],
  'POST /v1/api-keys': [{ scope: 'admin', body: { name: 'matrix', scopes: ['read'] } }],
  'GET /v1/api-keys': [{ scope: 'admin' }],
  'POST /v1/api-keys/{keyId}/revoke': [{ scope: 'admin', body: {} }],
  'POST /v1/webhook-endpoints': [{ scope: 'admin', body: { url: 'https://example.com/hook', events: ['*'] } }],
  'GET /v1/webhook-endpoints': [{ scope: 'admin' }],
  'GET /v1/webhook-endpoints/{endpointId}': [{ scope: 'admin' }],
  'POST /v1/webhook-endpoints/{endpointId}/rotate-secret': [{ scope: 'admin', body: {} }],
  'POST /v1/webhook-endpoints/{endpointId}/disable': [{ scope: 'admin', body: {} }],
  'POST /v1/webhook-endpoints/{endpointId}/enable': [{ scope: 'admin', body: {} }],
  'GET /v1/webhook-endpoints/{endpointId}/deliveries': [{ scope: 'admin' }],
  'POST /v1/webhook-endpoints/{endpointId}/deliveries/{deliveryId}/retry': [{ scope: 'admin', body: {} }],
  'POST /v1/accounts/{accountId}/settings': [{ scope: 'grant', body: { lowBalanceThreshold: 10 } }],
};

const KEYED_SCOPES: readonly Scope[] = ['admin', 'commands', 'grant', 'debit', 'start', 'work', 'read', 'audit'];
const COMMAND_SCOPES: readonly Scope[] = ['grant', 'debit', 'start', 'work'];

function allows(key: Scope, required: Scope): boolean {
  return key === 'admin' || key === required || (key === 'commands' && COMMAND_SCOPES.includes(required));
}

type Document = { paths: Record<string, Record<string, unknown>> };
const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

function operationsOf(document: Document): string[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((method) => METHODS.includes(method))
      .map((method) => `${method.toUpperCase()} ${path}`),
  );
}

describe('authorization: every operation × every scope', () => {
  let t: TestApp;
  let api: ReturnType<typeof client>;
  const clock = new ManualClock(Date.now());
  let document: Document;
  let revokedKey: string;
  let expiredKey: string;

  beforeAll(async () => {
    t = await startTestApp('auth_matrix', { clock });
    api = client(t);
    document = (await t.app.inject({ method: 'GET', url: '/docs-json' })).json();
    // Both have the admin scope: only their state may refuse them.
    const revoked = await api.post('/v1/api-keys', { name: 'revoked', scopes: ['admin'] });
    expect(revoked.status).toBe(201);
    expect((await api.post(`/v1/api-keys/${revoked.body.keyId}/revoke`, { reason: 'test' })).status).toBe(200);
    revokedKey = revoked.body.secret;
    const expiresAt = new Date(clock.now().getTime() + 3_600_000).toISOString();
    const expired = await api.post('/v1/api-keys', { name: 'expired', scopes: ['admin'], expiresAt });
    expect(expired.status).toBe(201);
    expiredKey = expired.body.secret;
    clock.advanceSeconds(7_200);
  });
  afterAll(async () => {
    await t.close();
  });

  it('has a rule for every operation the document serves, and no rule for one it does not', () => {
    const operations = operationsOf(document);
    expect(operations.filter((operation) => !(operation in RULES))).toEqual([]);
    // And a rule for an operation the document lacks is a stale rule.
    expect(Object.keys(RULES).filter((rule) => !operations.includes(rule))).toEqual([]);
  });

  function urlOf(operation: string): { method: 'GET' | 'POST'; url: string } {
    const [method, path] = operation.split(' ') as ['GET' | 'POST', string];
    return { method, url: path.replace(/\{(\w+)\}/g, (_, name: string) => `m-${name}`) };
  }

  async function call(operation: string, body: unknown, key: string | null): Promise<Reply> {
    const { method, url } = urlOf(operation);
    return method === 'GET' ? api.get(url, { key }) : api.post(url, body ?? {}, { key });
  }

  /** A refusal: its status and code, and not one event appended. */
  async function expectRefused(operation: string, body: unknown, key: string | null, status: 401 | 403) {
    const head = await api.head();
    const reply = await call(operation, body, key);
    expect({ operation, key: key?.slice(0, 8), status: reply.status, code: reply.body.error?.code }).toEqual({
      operation,
      key: key?.slice(0, 8),
      status,
      code: status === 401 ? 'unauthenticated' : 'forbidden',
    });
    expect(await api.head()).toBe(head);
  }

  it('refuses every keyed operation without a valid key (401) and with a key lacking the scope (403), appending nothing', async () => {
    let checked = 0;
    const passedWrongly: { operation: string; scope: Scope; status: number }[] = [];
    for (const operation of operationsOf(document)) {
      for (const access of RULES[operation]!) {
        if (access === 'public' || access === 'signature') continue;
        for (const key of [null, 'ldg_unknown-0123456789abcdef', revokedKey, expiredKey]) {
          await expectRefused(operation, access.body, key, 401);
          checked++;
        }
        for (const scope of KEYED_SCOPES) {
          if (allows(scope, access.scope)) {
            // Past the guard: whatever the operation answers on its own (201, 400, 404, 409...), never a refusal or a 5xx.
            const { status } = await call(operation, access.body, t.keys[scope]);
            if ([401, 403, 429].includes(status) || status >= 500) passedWrongly.push({ operation, scope, status });
          } else {
            await expectRefused(operation, access.body, t.keys[scope], 403);
          }
          checked++;
        }
      }
    }
    expect(passedWrongly).toEqual([]);
    expect(checked).toBeGreaterThan(200);
  });

  it('answers health and metrics without a key, and takes no API key for a provider webhook (the signature is the credential)', async () => {
    for (const operation of operationsOf(document)) {
      const [access] = RULES[operation]!;
      if (access === 'public') {
        const { method, url } = urlOf(operation);
        const { statusCode: status } = await t.app.inject({ method, url });
        expect({ operation, refused: status === 401 || status === 403 }).toEqual({ operation, refused: false });
      } else if (access === 'signature') {
        for (const key of [null, t.keys.admin]) {
          const head = await api.head();
          const reply = await call(operation, { taskId: 't-1', status: 'succeeded' }, key);
          expect(reply).toMatchObject({ status: 401, body: { error: { code: 'unauthenticated' } } });
          expect(await api.head()).toBe(head);
        }
      }
    }
  });
});
