import { Counter, Gauge } from 'prom-client';

/** What the gauges read when scraped: the running outbound service of this process. */
export interface OutboundGaugeSource {
  lagEvents(): Promise<number>;
  pending(): Promise<{ pending: number; oldestAgeSeconds: number }>;
}

let source: OutboundGaugeSource | undefined;

/** The service in this process that the gauges read (tests build several apps in one process: the last wins). */
export function setOutboundGaugeSource(next: OutboundGaugeSource | undefined): void {
  source = next;
}

/** Made once per process, on prom-client's default registry (like ledgerMetrics). */
export const outboundMetrics = (() => ({
  deliveries: new Counter({
    name: 'ledger_outbound_deliveries_total',
    help: 'Outbound webhook attempts by outcome: succeeded, retry (failed, will be retried), failed (given up)',
    labelNames: ['outcome'] as const,
  }),
  attempts: new Counter({
    name: 'ledger_outbound_attempts_total',
    help: 'Outbound webhook attempts made (every outcome)',
  }),
  pending: new Gauge({
    name: 'ledger_outbound_pending_deliveries',
    help: 'Outbound deliveries not yet succeeded or failed',
    async collect() {
      if (source) this.set((await source.pending().catch(() => ({ pending: 0 }))).pending);
    },
  }),
  oldestPendingAge: new Gauge({
    name: 'ledger_outbound_oldest_pending_age_seconds',
    help: 'Age of the oldest pending outbound delivery (0: none)',
    async collect() {
      if (source) this.set((await source.pending().catch(() => ({ oldestAgeSeconds: 0 }))).oldestAgeSeconds);
    },
  }),
  lag: new Gauge({
    name: 'ledger_outbound_dispatcher_lag_events',
    help: 'Ledger events the outbound dispatcher has not yet turned into deliveries (head position minus its checkpoint)',
    async collect() {
      if (source) this.set(await source.lagEvents().catch(() => 0));
    },
  }),
}))();
