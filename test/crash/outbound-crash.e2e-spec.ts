import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { decideRegisterWebhookEndpoint, initialWebhookEndpointState, webhookEndpointStream } from '@ledger/domain';
import { PostgresEventStore, type StoredEvent } from '@ledger/event-store';
import { ledgerApiMigrations, newSigningSecret, outboundTables, webhookIdOf } from '@ledger/ledger-api';
import { migrate } from '@ledger/platform';
import { createTestDatabase, LedgerWorkload, WebhookReceiver } from '@ledger/test-support';

const KILLS = Number(process.env.OUTBOUND_KILLS ?? 6);
const CHILD = 'test/crash/outbound-child.ts';
const CATALOGUED = new Set([
  'CreditsGranted',
  'Debited',
  'Refunded',
  'CreditsExpired',
  'GrantVoided',
  'ProjectStarted',
  'ProjectClaimed',
  'ProjectCompleted',
  'ProjectFailed',
]);

/**
 * I8 against real crashes: the dispatcher and sender run as a process that is SIGKILLed
 * again and again while a writer appends and the receiver is down, then slow, for part of
 * the run. Afterwards every event of a subscribed type has reached the receiver (0 lost),
 * every copy of one event carries the same webhook-id, and every signature verifies.
 */
describe('outbound dispatcher crashes', () => {
  afterAll(() => {
    for (const child of live) child.kill('SIGKILL');
  });

  it(`delivers every subscribed event at least once, with one webhook-id each, across ${KILLS} SIGKILLs`, async () => {
    const url = await createTestDatabase('outbound_crash');
    const store = await PostgresEventStore.connect({ connectionString: url, poolSize: 4 });
    const pool = new pg.Pool({ connectionString: url });
    pool.on('error', () => undefined);
    await migrate(pool, ledgerApiMigrations);
    const receiver = await WebhookReceiver.start();
    let phase: 'up' | 'down' | 'slow' = 'up';
    receiver.answer = async () => {
      if (phase === 'down') return 503;
      if (phase === 'slow') await new Promise((resolve) => setTimeout(resolve, 400));
      return 200;
    };

    // The endpoint, registered the way the API does: its secret kept apart, its event in the log.
    const endpointId = 'we_crash';
    const secret = newSigningSecret();
    await outboundTables.saveSecret(pool, 'ws_crash', endpointId, secret);
    const decision = decideRegisterWebhookEndpoint(initialWebhookEndpointState(), {
      type: 'RegisterWebhookEndpoint',
      endpointId,
      url: receiver.url('/crash'),
      events: ['*'],
      secretId: 'ws_crash',
      now: new Date(),
    });
    await store.append([
      {
        streamName: webhookEndpointStream(endpointId),
        expectedRevision: 'no_stream',
        events: decision.webhookEndpoint.map((e) => ({ id: randomUUID(), type: e.type, data: { ...e.data } })),
      },
    ]);

    const workload = new LedgerWorkload(store);
    let writing = true;
    // Once the writer is done, the fold and the receiver may have nothing left to move on to:
    // the kills that remain then happen at once rather than waiting for progress that can't come.
    let written = false;
    const writer = (async () => {
      // Paced (about 250 steps a second), so the log still grows while the first, failing
      // phases run: those must see attempts refused, whatever the machine's speed.
      for (let i = 0; writing && i < 2_500; i++) {
        await workload.step();
        if (i % 25 === 24) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      written = true;
    })();
    const children: ChildProcess[] = [];
    try {
      for (let kill = 0; kill < KILLS; kill++) {
        phase = kill === 0 || kill === 1 ? 'down' : kill === 2 ? 'slow' : 'up';
        const child = await startChild(url);
        children.push(child);
        // Kill once the fold moved on and the receiver saw more, at a random point after.
        const [from, seen] = [await outboundTables.checkpoint(pool), receiver.received.length];
        await until(
          async () => written || ((await outboundTables.checkpoint(pool)) > from && receiver.received.length > seen),
        );
        const more = Math.floor(Math.random() * 40);
        await until(async () => written || receiver.received.length > seen + more);
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
    } finally {
      writing = false;
      await writer;
    }
    phase = 'up';
    const last = await startChild(url);
    children.push(last);
    const expected = (await allEvents(store)).filter((e) => CATALOGUED.has(e.type));
    const expectedIds = new Set(expected.map((e) => webhookIdOf(endpointId, e.id)));
    const succeededIds = () =>
      new Set(receiver.received.filter((r) => r.answered === 200).map((r) => r.headers['webhook-id']!));
    try {
      await receiver.waitFor(() => {
        const succeeded = succeededIds();
        return [...expectedIds].every((id) => succeeded.has(id));
      }, 90_000);
    } catch (error) {
      const { rows } = await pool.query(
        'SELECT status, count(*)::int AS n, min(next_attempt_at) AS next FROM ledger_api.outbound_deliveries GROUP BY status',
      );
      const succeeded = succeededIds();
      const missing = [...expectedIds].filter((id) => !succeeded.has(id));
      const rowsOfMissing = await pool.query(
        'SELECT webhook_id, status, attempts, next_attempt_at, last_error FROM ledger_api.outbound_deliveries WHERE webhook_id = ANY($1) LIMIT 5',
        [missing],
      );
      throw new Error(
        `${(error as Error).message}; expected ${expectedIds.size}, missing ${missing.length}; checkpoint ${await outboundTables.checkpoint(pool)} head ${await store.headPosition()}; ${JSON.stringify(rows)}; ${JSON.stringify(rowsOfMissing.rows)}`,
        { cause: error },
      );
    } finally {
      last.kill('SIGKILL');
      await once(last, 'exit');
    }

    const succeeded = succeededIds();
    const lost = [...expectedIds].filter((id) => !succeeded.has(id));
    expect(lost).toEqual([]);
    expect(expected.length).toBeGreaterThan(200);
    // Every copy of one event (by its type and position) carries one webhook-id, and one body.
    const idsByEvent = new Map<string, Set<string>>();
    const bodiesById = new Map<string, Set<string>>();
    const verifier = new Webhook(secret);
    for (const request of receiver.received) {
      const body = JSON.parse(request.body) as { type: string; data: { position: number } };
      const key = `${body.type}@${body.data.position}`;
      idsByEvent.set(key, (idsByEvent.get(key) ?? new Set()).add(request.headers['webhook-id']!));
      bodiesById.set(
        request.headers['webhook-id']!,
        (bodiesById.get(request.headers['webhook-id']!) ?? new Set()).add(request.body),
      );
      verifier.verify(request.body, request.headers);
    }
    expect([...idsByEvent.values()].filter((ids) => ids.size > 1)).toEqual([]);
    expect([...bodiesById.values()].filter((bodies) => bodies.size > 1)).toEqual([]);
    const duplicates = receiver.received.length - bodiesById.size;
    const retried = receiver.received.filter((r) => r.answered !== 200).length;
    // The down and slow phases made attempts fail: the test did exercise retries.
    expect(retried).toBeGreaterThan(0);
    process.stdout.write(
      `outbound crash: ${expected.length} events, ${receiver.received.length} requests, ${retried} failed attempts, ${duplicates} repeats\n`,
    );
    await receiver.close();
    await store.close();
    await pool.end();
  }, 240_000);
});

/** Children still running: a failing test must not leave them (jest would not exit). */
const live = new Set<ChildProcess>();

async function startChild(url: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    env: { ...process.env, DATABASE_URL: url, NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) if (line === 'ready') break;
  return child;
}

/** Polls `condition` until it holds; rejects after `timeoutMs`. */
async function until(condition: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function allEvents(store: PostgresEventStore): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  for (let after = 0n; ;) {
    const page = await store.readAll({ afterPosition: after, limit: 4096 });
    if (page.length === 0) return events;
    events.push(...page);
    after = page[page.length - 1]!.position;
  }
}
