import { startTestApp, type TestApp } from '@ledger/test-support';

/** The served OpenAPI document must carry the contract of API.md. */
describe('OpenAPI document', () => {
  let t: TestApp;
  let document: {
    paths: Record<
      string,
      Record<
        string,
        {
          description?: string;
          parameters?: { name: string; in: string; required?: boolean; schema?: { enum?: string[] } }[];
          responses?: Record<string, { description?: string }>;
        }
      >
    >;
  };
  beforeAll(async () => {
    t = await startTestApp('openapi');
    document = (await t.app.inject({ method: 'GET', url: '/docs-json' })).json();
  });
  afterAll(async () => {
    await t.close();
  });

  const commands = [
    '/v1/accounts/{accountId}/grants',
    '/v1/accounts/{accountId}/debits',
    '/v1/projects',
    '/v1/projects/{projectId}/claim',
    '/v1/projects/{projectId}/heartbeat',
    '/v1/projects/{projectId}/complete',
    '/v1/projects/{projectId}/fail',
    '/v1/projects/{projectId}/assets',
  ];

  it.each(commands)('documents POST %s with its required Idempotency-Key', (path) => {
    const parameters = document.paths[path]?.post?.parameters ?? [];
    expect(parameters).toContainEqual(
      expect.objectContaining({ name: 'Idempotency-Key', in: 'header', required: true }),
    );
  });

  it('documents the queries and health', () => {
    expect(document.paths['/v1/accounts/{accountId}']).toHaveProperty('get');
    for (const path of ['lots', 'balance', 'statement']) {
      expect(document.paths[`/v1/accounts/{accountId}/${path}`]).toHaveProperty('get');
    }
    const parameters = (path: string) =>
      (document.paths[`/v1/accounts/{accountId}/${path}`]?.get?.parameters ?? []).map((p) => [p.name, !!p.required]);
    expect(parameters('balance')).toContainEqual(['at', true]);
    expect(parameters('statement')).toEqual(
      expect.arrayContaining([
        ['from', true],
        ['to', true],
      ]),
    );
    expect(parameters('lots')).toContainEqual(['status', false]);
    expect(document.paths['/v1/projects/{projectId}']).toHaveProperty('get');
    expect(document.paths['/health/ready']).toHaveProperty('get');
  });

  it('documents the provider webhook with its signature header, and the unmatched deliveries', () => {
    expect(document.paths['/v1/webhooks/{provider}']?.post?.parameters ?? []).toContainEqual(
      expect.objectContaining({ name: 'X-Signature', in: 'header', required: true }),
    );
    expect(document.paths['/v1/webhooks/unmatched']).toHaveProperty('get');
  });

  it('documents what a provider delivery may end, the early-delivery rule and the kept statuses', () => {
    const receive = document.paths['/v1/webhooks/{provider}']?.post;
    expect(receive?.description).toContain('pending or processing');
    expect(receive?.responses?.['202']?.description).toContain('applied once');
    expect(receive?.responses?.['202']?.description).toContain('LEDGER_WEBHOOK_UNMATCHED_DAYS');
    const status = (document.paths['/v1/webhooks/unmatched']?.get?.parameters ?? []).find((p) => p.name === 'status');
    expect(status?.schema?.enum).toEqual(['kept', 'applied', 'expired']);
  });

  it('serves the UI at /docs', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/docs' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('text/html');
  });
});
