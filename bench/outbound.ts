/**
 * Outbound webhooks under load: how fast the senders drain a backlog of deliveries to a
 * receiver on loopback, and how far the dispatcher trails the log while the service
 * takes project starts at half the measured start rate.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { ledgerApiMigrations, OutboundSender, outboundTables, type OutboundConfig } from '@ledger/ledger-api';
import { migrate } from '@ledger/platform';
import { load } from './load.js';
import { BENCH_KEY, type BenchService } from './service.js';

const CONCURRENCY = 16;

/** A receiver that answers 204 at once and counts what it got. */
async function startReceiver() {
  let received = 0;
  const server = http.createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      received++;
      response.statusCode = 204;
      response.end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received: () => received,
    async stop() {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** Deliveries per second a sender of this process gets through, from a backlog of `count` in a fresh database. */
export async function measureOutboundDrain(databaseUrl: string, count: number) {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: CONCURRENCY + 4 });
  await migrate(pool, ledgerApiMigrations);
  const receiver = await startReceiver();
  await outboundTables.saveSecret(pool, 'ws_bench', 'we_bench', 'whsec_' + Buffer.alloc(32, 1).toString('base64'));
  await outboundTables.upsertEndpoint(pool, {
    endpoint_id: 'we_bench',
    url: receiver.url,
    events: ['*'],
    description: null,
    status: 'enabled',
    secret_id: 'ws_bench',
    previous_secret_id: null,
    previous_expires_at: null,
    created_at: new Date(),
    position: '1',
    updated_position: '1',
  });
  const body = JSON.stringify({ type: 'credits.granted', timestamp: new Date().toISOString(), data: { amount: 1 } });
  const retryUntil = new Date(Date.now() + 3_600_000);
  for (let i = 0; i < count; i += 5_000) {
    const batch = Array.from({ length: Math.min(5_000, count - i) }, (_, j) => ({
      endpointId: 'we_bench',
      webhookId: `msg_bench_${i + j}`,
      type: 'credits.granted',
      position: BigInt(i + j + 1),
      body,
      retryUntil,
    }));
    await outboundTables.insertDeliveries(pool, batch);
  }
  const config: OutboundConfig = {
    allowPrivate: true,
    lowBalanceThreshold: undefined,
    expiryNoticeHours: 72,
    retry: { firstDelayMs: 5_000, delayMsMax: 3_600_000, windowMs: 3_600_000 },
    concurrencyMax: CONCURRENCY,
    timeoutMs: 10_000,
    pollMs: 50,
  };
  let succeeded = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const sender = new OutboundSender(pool, config, {
    onOutcome: (outcome) => {
      if (outcome === 'succeeded' && ++succeeded === count) done();
    },
    warn: () => undefined,
  });
  const started = performance.now();
  sender.start();
  await finished;
  const seconds = (performance.now() - started) / 1000;
  await sender.stop();
  await receiver.stop();
  await pool.end();
  return { deliveries: count, concurrency: CONCURRENCY, seconds, perSecond: count / seconds };
}

/**
 * The dispatcher's lag while the service takes starts at `rate`: every 20 ms, the log's
 * head against the outbound checkpoint (lag in events); then each delivery's time from
 * its event's commit to the receiver's 2xx.
 */
export async function measureOutboundLag(service: BenchService, rate: number, seconds: number) {
  const receiver = await startReceiver();
  const registered = await fetch(`${service.url}/v1/webhook-endpoints`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${BENCH_KEY}`,
      'content-type': 'application/json',
      'idempotency-key': `bench-outbound-${Date.now()}`,
    },
    body: JSON.stringify({ url: receiver.url, events: ['credits.debited', 'project.started'] }),
  });
  if (registered.status !== 201)
    throw new Error(`registering the endpoint: ${registered.status} ${await registered.text()}`);
  const { endpointId } = (await registered.json()) as { endpointId: string };
  const pool = new pg.Pool({ connectionString: service.databaseUrl, max: 2 });
  const lagEvents: number[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const { rows } = await pool.query<{ lag: string }>(
        `SELECT ((SELECT coalesce(max(position), 0) FROM event_store.events)
                 - (SELECT position FROM ledger_api.outbound_checkpoint))::text AS lag`,
      );
      lagEvents.push(Number(rows[0]!.lag));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  const result = await load(service.url, 'start', 16, seconds, { overallRate: Math.max(1, Math.round(rate)) });
  sampling = false;
  await sampler;
  // Every delivery of the run reaches the receiver: wait (bounded) for the last one.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { rows } = await pool.query<{ pending: string }>(
      `SELECT count(*)::text AS pending FROM ledger_api.outbound_deliveries WHERE endpoint_id = $1 AND status <> 'succeeded'`,
      [endpointId],
    );
    if (rows[0]!.pending === '0' || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const { rows } = await pool.query<{ ms: number }>(
    `SELECT extract(epoch FROM d.updated_at - e.created_at)::float8 * 1000 AS ms
     FROM ledger_api.outbound_deliveries d JOIN event_store.events e ON e.position = d.event_position
     WHERE d.endpoint_id = $1 AND d.status = 'succeeded'`,
    [endpointId],
  );
  await pool.end();
  await receiver.stop();
  return {
    rate: result.perSecond,
    deliveries: rows.length,
    received: receiver.received(),
    lagEvents: percentiles(lagEvents),
    eventToDeliveredMs: percentiles(rows.map((r) => r.ms)),
  };
}

function percentiles(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? 0 };
}
