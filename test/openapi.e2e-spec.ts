import SwaggerParser from '@apidevtools/swagger-parser';
import { startTestApp, type TestApp } from '@ledger/test-support';

type Operation = {
  description?: string;
  parameters?: { name: string; in: string; required?: boolean; schema?: { enum?: string[] } }[];
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: unknown }> }>;
};

/** The served OpenAPI document must carry the contract of API.md. */
describe('OpenAPI document', () => {
  let t: TestApp;
  let document: { paths: Record<string, Record<string, Operation>> };
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

  it('is a valid OpenAPI document', async () => {
    // The parser resolves $refs in place: it gets a copy.
    await expect(SwaggerParser.validate(structuredClone(document) as never)).resolves.toBeDefined();
  });

  it('gives every response of every operation a schema: success and errors', () => {
    const missing: string[] = [];
    let responses = 0;
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const statuses = Object.entries(operation.responses ?? {});
        if (!statuses.some(([status]) => status.startsWith('2'))) missing.push(`${method} ${path}: no 2xx`);
        const refusable = path.startsWith('/v1/');
        if (refusable && !statuses.some(([status]) => /^[45]/.test(status)))
          missing.push(`${method} ${path}: no error`);
        for (const [status, response] of statuses) {
          responses += 1;
          const contents = Object.entries(response.content ?? {});
          if (contents.length === 0 || contents.some(([, content]) => content.schema === undefined)) {
            missing.push(`${method.toUpperCase()} ${path} ${status}`);
          }
        }
      }
    }
    expect(missing).toEqual([]);
    expect(responses).toBeGreaterThan(100);
  });

  it('types a command answer and the error body by its codes', () => {
    const schemas = (document as unknown as { components: { schemas: Record<string, Record<string, unknown>> } })
      .components.schemas;
    const grant = document.paths['/v1/accounts/{accountId}/grants']?.post?.responses?.['201'];
    expect(grant?.content?.['application/json']?.schema).toEqual({ $ref: '#/components/schemas/GrantAnswer' });
    expect(schemas['GrantAnswer']).toMatchObject({ required: expect.arrayContaining(['balance', 'position']) });
    const conflict = document.paths['/v1/projects/{projectId}/claim']?.post?.responses?.['409'];
    expect(conflict?.content?.['application/json']?.schema).toEqual({ $ref: '#/components/schemas/ErrorBody' });
    expect(JSON.stringify(schemas['ErrorBody'])).toContain('"lease_held"');
  });

  it('serves the UI at /docs', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/docs' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('text/html');
  });
});
