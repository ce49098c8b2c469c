/**
 * The outbound dispatcher and sender as a bare process for the crash test: killed with
 * SIGKILL at random points, restarted, and judged by what the receiver got.
 */
import pg from 'pg';
import { PostgresEventStore } from '@ledger/event-store';
import { OutboundDispatcher, OutboundSender, type OutboundConfig } from '@ledger/ledger-api';

const url = process.env.DATABASE_URL!;
const store = await PostgresEventStore.connect({ connectionString: url, poolSize: 4 });
const pool = new pg.Pool({ connectionString: url, max: 12 });
pool.on('error', () => undefined);
const config: OutboundConfig = {
  allowPrivate: true,
  lowBalanceThreshold: 30,
  expiryNoticeHours: 72,
  retry: { firstDelayMs: 20, delayMsMax: 200, windowMs: 3 * 24 * 3600_000 },
  concurrencyMax: 8,
  // Short, so the receiver's slow phase makes attempts time out and be retried.
  timeoutMs: 300,
  pollMs: 20,
};
const silent = { info: () => undefined, warn: () => undefined };
const sender = new OutboundSender(pool, config, { onOutcome: () => undefined, warn: () => undefined });
const dispatcher = new OutboundDispatcher({
  pool,
  connectionString: url,
  store,
  config,
  log: silent,
  now: () => new Date(),
  onDeliveries: () => sender.wake(),
});
sender.start();
dispatcher.start();
process.stdout.write('ready\n');
