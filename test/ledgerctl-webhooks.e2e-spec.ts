import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';

const run = promisify(execFile);
const LEDGERCTL = new URL('../apps/ledgerctl/bin/ledgerctl.js', import.meta.url).pathname;

interface Seen {
  method: string;
  url: string;
  idempotencyKey: string | undefined;
  body: unknown;
}

/**
 * `ledgerctl webhooks` against a stand-in that answers as API.md "Outbound webhooks"
 * documents: the requests the CLI sends and how it prints the answers. (The service's
 * own endpoints come with the outbound webhooks; this checks the CLI's side of the contract.)
 */
describe('ledgerctl webhooks (against the documented contract)', () => {
  let server: Server;
  let url: string;
  const seen: Seen[] = [];
  const answers: Record<string, [number, object | undefined]> = {
    'POST /v1/webhook-endpoints': [
      201,
      {
        endpointId: 'we_1',
        url: 'https://hooks.test/x',
        events: ['*'],
        secret: 'whsec_c2VjcmV0',
        status: 'enabled',
        position: 9,
      },
    ],
    'GET /v1/webhook-endpoints': [
      200,
      {
        items: [{ endpointId: 'we_1', url: 'https://hooks.test/x', events: ['*'], status: 'enabled' }],
        nextCursor: null,
      },
    ],
    'GET /v1/webhook-endpoints/we_1/deliveries?status=failed': [
      200,
      {
        items: [
          {
            deliveryId: 'dl_1',
            type: 'credits.granted',
            status: 'failed',
            attempts: 12,
            lastStatusCode: 500,
            nextAttemptAt: null,
          },
        ],
        nextCursor: null,
      },
    ],
    'POST /v1/webhook-endpoints/we_1/deliveries/dl_1/retry': [202, undefined],
  };
  beforeAll(async () => {
    server = createServer((request, response) => {
      let text = '';
      request.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      request.on('end', () => {
        const key = request.headers['idempotency-key'];
        seen.push({
          method: request.method!,
          url: request.url!,
          idempotencyKey: typeof key === 'string' ? key : undefined,
          body: text ? JSON.parse(text) : undefined,
        });
        const [status, body] = answers[`${request.method} ${request.url}`] ?? [
          404,
          { error: { code: 'not_found', message: 'no' } },
        ];
        if (body === undefined) response.writeHead(status).end();
        else response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const ledgerctl = async (args: string[]) =>
    run(process.execPath, [LEDGERCTL, '--url', url, '--key', 'ldg_test', ...args], {
      env: { ...process.env, NODE_OPTIONS: '' },
    });

  it('adds, lists, shows deliveries and retries one', async () => {
    const added = await ledgerctl([
      'webhooks',
      'add',
      'https://hooks.test/x',
      '--events',
      'credits.granted,balance.low',
    ]);
    expect(added.stdout).toBe('added we_1\nsecret (shown once): whsec_c2VjcmV0\n');
    expect(seen.at(-1)).toMatchObject({
      method: 'POST',
      url: '/v1/webhook-endpoints',
      idempotencyKey: expect.any(String),
      body: { url: 'https://hooks.test/x', events: ['credits.granted', 'balance.low'] },
    });
    const listed = await ledgerctl(['webhooks', 'list', '--json']);
    expect(JSON.parse(listed.stdout)).toMatchObject({ items: [{ endpointId: 'we_1' }] });
    const deliveries = await ledgerctl(['webhooks', 'deliveries', 'we_1', '--status', 'failed']);
    expect(deliveries.stdout).toMatch(/dl_1\s+credits\.granted\s+failed\s+12\s+500/);
    const retried = await ledgerctl(['webhooks', 'retry', 'we_1', 'dl_1']);
    expect(retried.stdout).toBe('retry of dl_1 queued\n');
    expect(seen.at(-1)).toMatchObject({
      method: 'POST',
      url: '/v1/webhook-endpoints/we_1/deliveries/dl_1/retry',
      body: {},
    });
  });
});
