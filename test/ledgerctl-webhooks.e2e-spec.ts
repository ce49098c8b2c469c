import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Webhook } from 'standardwebhooks';
import { startTestApp, within, WebhookReceiver, type TestApp } from '@ledger/test-support';

const run = promisify(execFile);
const LEDGERCTL = new URL('../apps/ledgerctl/bin/ledgerctl.js', import.meta.url).pathname;
const WAIT_MS_MAX = 20_000;

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

interface Delivery {
  deliveryId: string;
  webhookId: string;
  type: string;
  status: string;
  attempts: number;
  lastStatusCode: number | null;
  nextAttemptAt: string | null;
  attemptLog: { attempt: number; statusCode: number | null }[];
}

/**
 * `ledgerctl webhooks` as a process against the real service, whose deliveries go to a
 * receiver on loopback: add (the secret it shows signs what arrives), list, a delivery
 * refused until it fails, its attempts, a retry that gets it delivered, and the errors.
 */
describe('ledgerctl webhooks', () => {
  let t: TestApp;
  let env: NodeJS.ProcessEnv;
  let receiver: WebhookReceiver;
  /** The receiver answers 500 until a test says it recovered. */
  let healthy = false;
  beforeAll(async () => {
    t = await startTestApp('ledgerctl-webhooks', {
      env: {
        LEDGER_OUTBOUND_ALLOW_PRIVATE: 'true',
        // Fast retries, and a two-second window so a refused delivery ends `failed` within the test.
        LEDGER_OUTBOUND_RETRY_FIRST_MS: '20',
        LEDGER_OUTBOUND_RETRY_WINDOW_SECONDS: '2',
        LEDGER_OUTBOUND_POLL_MS: '20',
        LEDGER_WATCHDOG: 'off',
      },
    });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    env = { ...process.env, LEDGER_URL: await t.app.getUrl(), LEDGER_KEY: t.keys.admin, NODE_OPTIONS: '' };
    receiver = await WebhookReceiver.start();
    receiver.answer = () => (healthy ? 204 : 500);
  });
  afterAll(async () => {
    await t.close();
    await receiver.close();
  });

  async function ledgerctl(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Outcome> {
    try {
      const { stdout, stderr } = await run(process.execPath, [LEDGERCTL, ...args], { env: { ...env, ...extraEnv } });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  }
  const json = (outcome: Outcome) => {
    expect(outcome).toMatchObject({ code: 0, stderr: '' });
    expect(outcome.stdout.trim().split('\n')).toHaveLength(1);
    return JSON.parse(outcome.stdout) as Record<string, unknown>;
  };
  const deliveries = async (endpointId: string, status: string): Promise<Delivery[]> =>
    json(await ledgerctl(['webhooks', 'deliveries', endpointId, '--status', status, '--json']))['items'] as Delivery[];
  /** The endpoint's deliveries of `status` once one matches `ready`, within a bound. */
  async function deliveryWhen(endpointId: string, status: string, ready: (d: Delivery) => boolean): Promise<Delivery> {
    let found: Delivery | undefined;
    const took = await within(WAIT_MS_MAX, async () => {
      found = (await deliveries(endpointId, status)).find(ready);
      return found !== undefined;
    });
    if (took === undefined) throw new Error(`no ${status} delivery of ${endpointId} matched within ${WAIT_MS_MAX} ms`);
    return found!;
  }

  let endpointId: string;
  let secret: string;

  it('adds endpoints, printing each secret once (and all of it with --json), and lists them', async () => {
    const added = json(
      await ledgerctl([
        '--json',
        'webhooks',
        'add',
        receiver.url('/grants'),
        '--events',
        'credits.granted',
        '--description',
        'ctl grants',
      ]),
    );
    expect(added).toMatchObject({
      endpointId: expect.stringMatching(/^we_/),
      url: receiver.url('/grants'),
      events: ['credits.granted'],
      description: 'ctl grants',
      status: 'enabled',
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/=]+$/),
      position: expect.any(Number),
    });
    endpointId = added['endpointId'] as string;
    secret = added['secret'] as string;

    const addOther = ['webhooks', 'add', receiver.url('/other'), '--events', 'project.completed'];
    const person = await ledgerctl([...addOther, '--idempotency-key', 'ctl-add-other']);
    expect(person).toMatchObject({ code: 0, stderr: '' });
    const [, otherId, otherSecret] =
      /^added (we_\S+) \(\S+\/other: project\.completed\)\nsecret: (whsec_\S+)\n$/.exec(person.stdout) ?? [];
    expect(otherId).toBeDefined();
    expect(otherSecret).not.toBe(secret);
    // A repeat of the same key (a lost answer retried) registers nothing more and answers the same secret.
    const repeat = await ledgerctl([...addOther, '--idempotency-key', 'ctl-add-other']);
    expect(repeat).toMatchObject({ code: 0, stderr: '' });
    expect(repeat.stdout).toBe(person.stdout);

    const listed = json(await ledgerctl(['webhooks', 'list', '--json']));
    expect(listed).toEqual({ items: expect.any(Array), nextCursor: null });
    const items = listed['items'] as Record<string, unknown>[];
    expect(items.map((e) => e['endpointId'])).toEqual([endpointId, otherId]);
    expect(items[0]).toMatchObject({ url: receiver.url('/grants'), events: ['credits.granted'], status: 'enabled' });
    // Never a secret after the add.
    expect(JSON.stringify(listed)).not.toContain('whsec_');
    const table = await ledgerctl(['webhooks', 'list']);
    expect(table.stdout).toMatch(
      new RegExp(`^${endpointId}\\s+enabled\\s+\\S+/grants\\s+credits\\.granted\\s+ctl grants$`, 'm'),
    );
    expect(table.stdout).not.toContain('whsec_');
  });

  it('shows a refused delivery with its attempts, and a retry after the receiver recovered delivers it', async () => {
    healthy = false;
    const grant = json(await ledgerctl(['--json', 'grant', 'ctl-hook-1', '40', '--source', 'promo']));
    expect(grant).toMatchObject({ accountId: 'ctl-hook-1', balance: 40 });

    // Refused on every attempt until the two-second window closes: then `failed`.
    const failed = await deliveryWhen(endpointId, 'failed', (d) => d.type === 'credits.granted');
    expect(failed).toMatchObject({ status: 'failed', lastStatusCode: 500, nextAttemptAt: null });
    expect(failed.attempts).toBeGreaterThanOrEqual(2);
    expect(failed.attemptLog.map((a) => a.attempt)).toEqual(Array.from({ length: failed.attempts }, (_, i) => i + 1));
    expect(failed.attemptLog.every((a) => a.statusCode === 500)).toBe(true);
    expect(await deliveries(endpointId, 'pending')).toEqual([]);
    expect(await deliveries(endpointId, 'succeeded')).toEqual([]);

    const shown = await ledgerctl(['webhooks', 'deliveries', endpointId, '--status', 'failed']);
    expect(shown).toMatchObject({ code: 0, stderr: '' });
    expect(shown.stdout).toMatch(
      new RegExp(`^${failed.deliveryId}\\s+credits\\.granted\\s+\\d+\\s+failed\\s+${failed.attempts}\\s+500\\s+-`, 'm'),
    );
    expect(shown.stdout.match(/^\s+#\d+\s+\S+\s+\d+ ms\s+500$/gm)).toHaveLength(failed.attempts);

    // What arrived: the same webhook-id on every attempt, signed with the secret `add` printed.
    const refused = receiver.received.filter((r) => r.path === '/grants');
    expect(refused).toHaveLength(failed.attempts);
    expect(new Set(refused.map((r) => r.headers['webhook-id']))).toEqual(new Set([failed.webhookId]));
    for (const request of refused)
      expect(() => new Webhook(secret).verify(request.body, request.headers)).not.toThrow();

    healthy = true;
    const retried = json(await ledgerctl(['--json', 'webhooks', 'retry', endpointId, failed.deliveryId]));
    expect(retried).toEqual({ endpointId, deliveryId: failed.deliveryId, status: 'pending' });
    const delivered = await deliveryWhen(endpointId, 'succeeded', (d) => d.deliveryId === failed.deliveryId);
    expect(delivered).toMatchObject({
      webhookId: failed.webhookId,
      attempts: failed.attempts + 1,
      lastStatusCode: 204,
    });
    expect(delivered.attemptLog.at(-1)).toMatchObject({ attempt: failed.attempts + 1, statusCode: 204 });
    expect(await deliveries(endpointId, 'failed')).toEqual([]);
    const arrived = receiver.received.filter((r) => r.path === '/grants');
    expect(arrived.map((r) => r.answered)).toEqual([...refused.map(() => 500), 204]);
    expect(arrived.at(-1)!.headers['webhook-id']).toBe(failed.webhookId);

    // A person's retry of a delivered one sends it once more, with the same id.
    const again = await ledgerctl(['webhooks', 'retry', endpointId, failed.deliveryId]);
    expect(again).toEqual({ code: 0, stdout: `retry of delivery ${failed.deliveryId} queued (pending)\n`, stderr: '' });
    await receiver.waitFor((all) => all.filter((r) => r.path === '/grants' && r.answered === 204).length === 2);
    expect(receiver.received.at(-1)!.headers['webhook-id']).toBe(failed.webhookId);
  });

  it('refuses unknown endpoints and deliveries and bad input with the error code (exit 1), bad usage with 2', async () => {
    const unknown = await ledgerctl(['webhooks', 'deliveries', 'we_nope']);
    expect(unknown).toMatchObject({ code: 1, stdout: '' });
    expect(unknown.stderr).toMatch(/^ledgerctl: not_found \(404\): /);
    const unknownJson = await ledgerctl(['--json', 'webhooks', 'retry', 'we_nope', '1']);
    expect(unknownJson.code).toBe(1);
    expect(JSON.parse(unknownJson.stdout)).toMatchObject({ error: { status: 404, code: 'not_found' } });

    for (const deliveryId of ['999999', 'dl_1']) {
      const noDelivery = await ledgerctl(['webhooks', 'retry', endpointId, deliveryId]);
      expect(noDelivery.code).toBe(1);
      expect(noDelivery.stderr).toContain('not_found (404)');
    }

    const badStatus = await ledgerctl(['webhooks', 'deliveries', endpointId, '--status', 'lost']);
    expect(badStatus.code).toBe(1);
    expect(badStatus.stderr).toContain('validation_failed (400)');
    const badEvent = await ledgerctl(['webhooks', 'add', receiver.url('/x'), '--events', 'credits.stolen']);
    expect(badEvent.code).toBe(1);
    expect(badEvent.stderr).toContain('validation_failed (400)');
    const badUrl = await ledgerctl(['webhooks', 'add', 'ftp://127.0.0.1/x']);
    expect(badUrl.code).toBe(1);
    expect(badUrl.stderr).toContain('validation_failed (400)');
    // None of the refused adds registered anything.
    expect((json(await ledgerctl(['webhooks', 'list', '--json']))['items'] as unknown[]).length).toBe(2);

    expect((await ledgerctl(['webhooks', 'retry', endpointId])).code).toBe(2);
    const notAdmin = await ledgerctl(['webhooks', 'list'], { LEDGER_KEY: t.keys.read });
    expect(notAdmin.code).toBe(1);
    expect(notAdmin.stderr).toContain('forbidden (403)');
  });
});
