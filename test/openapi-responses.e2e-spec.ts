import { Ajv } from 'ajv';
import { startTestApp, type TestApp } from '@ledger/test-support';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
interface Document {
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema?: Json }> }> }>>;
  components: { schemas: Record<string, Json> };
}

/** OpenAPI 3.0's `nullable` as JSON Schema (ajv's): a type that also takes null. */
function jsonSchemaOf(node: Json): Json {
  if (Array.isArray(node)) return node.map(jsonSchemaOf);
  if (node === null || typeof node !== 'object') return node;
  const schema = Object.fromEntries(Object.entries(node).map(([key, value]) => [key, jsonSchemaOf(value)]));
  if (schema['nullable'] !== true) return schema;
  delete schema['nullable'];
  if (Array.isArray(schema['allOf'])) return { anyOf: [...schema['allOf'], { type: 'null' }] };
  if (Array.isArray(schema['enum'])) schema['enum'] = [...schema['enum'], null];
  return { ...schema, type: [schema['type'] as string, 'null'] };
}

/** What the service answers matches the schemas its document gives (what the generated client types). */
describe('OpenAPI response schemas', () => {
  let t: TestApp;
  let document: Document;
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  let keys = 0;
  beforeAll(async () => {
    t = await startTestApp('openapi_responses');
    document = jsonSchemaOf((await t.app.inject({ method: 'GET', url: '/docs-json' })).json()) as unknown as Document;
  });
  afterAll(async () => {
    await t.close();
  });

  /** Calls the service and checks the answer against its operation's schema for that status. */
  async function call(method: 'GET' | 'POST', url: string, body?: object) {
    const response = await t.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${t.keys.admin}`, 'idempotency-key': `schema-${++keys}` },
      ...(body ? { payload: body } : {}),
    });
    const path = url.split('?')[0]!;
    const template = Object.keys(document.paths).find((p) =>
      new RegExp(`^${p.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path),
    );
    const schema =
      document.paths[template!]?.[method.toLowerCase()]?.responses[String(response.statusCode)]?.content?.[
        'application/json'
      ]?.schema;
    expect({ url, status: response.statusCode, documented: schema !== undefined }).toEqual({
      url,
      status: response.statusCode,
      documented: true,
    });
    const validate = ajv.compile({ ...(schema as object), components: document.components });
    const answer = response.json<Record<string, unknown>>();
    expect({ url, errors: validate(answer) ? [] : validate.errors }).toEqual({ url, errors: [] });
    return answer;
  }

  it('match for commands, refusals, queries, audit, keys and health', async () => {
    const soon = new Date(Date.now() + 86_400_000).toISOString();
    await call('POST', '/v1/accounts/s-1/grants', { amount: 100, source: 'purchase', expiresAt: soon });
    await call('POST', '/v1/accounts/s-1/grants', { amount: 50, source: 'promo', grantId: 'g-2' });
    await call('POST', '/v1/accounts/s-1/debits', { amount: 5, reason: 'fee' });
    await call('POST', '/v1/accounts/s-1/debits', { amount: 5000, reason: 'too much' });
    await call('POST', '/v1/projects', { projectId: 's-p1', accountId: 's-1', cost: 10, kind: 'video' });
    const claim = await call('POST', '/v1/projects/s-p1/claim', { workerId: 'w', leaseSeconds: 60 });
    await call('POST', '/v1/projects/s-p1/heartbeat', { attempt: claim['attempt'], leaseSeconds: 60 });
    await call('POST', '/v1/projects/s-p1/complete', {
      attempt: claim['attempt'],
      creditsUsed: 4,
      assets: { assetUrl: 'https://cdn.test/a' },
    });
    await call('POST', '/v1/projects/s-p1/assets', { previewUrl: 'https://cdn.test/p' });
    await call('POST', '/v1/projects', { projectId: 's-p2', accountId: 's-1', cost: 10 });
    await call('POST', '/v1/projects/s-p2/fail', { errorMessage: 'cancelled by the owner' });
    const last = await call('POST', '/v1/accounts/s-1/grants/g-2/void', { reason: 'chargeback' });
    const q = `minPosition=${String(last['position'])}`;
    const now = new Date(Date.now() + 1_000).toISOString();
    for (const url of [
      `/v1/accounts/s-1?${q}`,
      `/v1/accounts/s-1/ledger?${q}`,
      `/v1/accounts/s-1/lots?${q}`,
      `/v1/accounts/s-1/lots?status=voided&${q}`,
      `/v1/accounts/s-1/balance?at=${now}&${q}`,
      `/v1/accounts/s-1/statement?from=2020-01-01T00:00:00Z&to=${now}&${q}`,
      `/v1/accounts/s-1/projects?${q}`,
      `/v1/projects?${q}`,
      `/v1/projects/s-p1?${q}`,
      `/v1/projects/s-p2?${q}`,
      '/v1/projects/s-nobody',
      '/v1/audit/streams/account-s-1',
      '/v1/audit/events?limit=3',
      '/v1/audit/reconciliation',
      '/v1/webhooks/unmatched',
      '/v1/api-keys',
      '/health/live',
      '/health/ready',
    ]) {
      await call('GET', url);
    }
    const key = await call('POST', '/v1/api-keys', { name: 's-reader', scopes: ['read'] });
    await call('POST', `/v1/api-keys/${String(key['keyId'])}/revoke`, {});
    await call('POST', '/v1/accounts/s-1/grants', { amount: 0, source: 'nowhere' });
  });
});
