import { collectDefaultMetrics, Counter, Gauge, Histogram, register } from 'prom-client';

/**
 * The service's Prometheus metrics, on prom-client's default registry. Made
 * once per process: tests build many apps in one process, and a metric can be
 * registered only once.
 */
export const ledgerMetrics = (() => {
  collectDefaultMetrics();
  return {
    appendGroupSize: new Histogram({
      name: 'ledger_event_store_append_group_size',
      help: 'Appends committed by one statement (group commit); outcome one-by-one: the group failed and each append went alone',
      labelNames: ['outcome'] as const,
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    }),
    authRefusals: new Counter({
      name: 'ledger_auth_refusals_total',
      help: 'Requests refused before any work, by reason: unauthenticated (no or unknown key), revoked, expired, forbidden (scope), rate_limited',
      labelNames: ['reason'] as const,
    }),
    providerDeliveries: new Counter({
      name: 'ledger_provider_deliveries_total',
      help: 'Provider deliveries for a task no project had, by what this replica did: kept (a new one), applied (once its project started, or re-delivered), expired (kept longer than LEDGER_WEBHOOK_UNMATCHED_DAYS)',
      labelNames: ['outcome'] as const,
    }),
    providerDeliveriesHeld: new Gauge({
      name: 'ledger_provider_deliveries',
      help: 'Provider deliveries for a task no project had, by status now (all replicas): kept (waiting for the project), applied, expired',
      labelNames: ['status'] as const,
      async collect() {
        // The webhooks module of the app started last counts them; an outage leaves the last values.
        const counts = await heldDeliveriesSource?.().catch(() => undefined);
        if (counts) for (const [status, count] of Object.entries(counts)) this.set({ status }, count);
      },
    }),
    httpDuration: new Histogram({
      name: 'ledger_http_request_duration_seconds',
      help: 'HTTP requests by method, route and status',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    }),
  };
})();

export const metricsRegistry = register;

let heldDeliveriesSource: (() => Promise<Record<string, number>>) | undefined;

/** What `ledger_provider_deliveries` reads at each scrape; returns the unregister. */
export function countHeldDeliveriesWith(source: () => Promise<Record<string, number>>): () => void {
  heldDeliveriesSource = source;
  return () => {
    if (heldDeliveriesSource === source) heldDeliveriesSource = undefined;
  };
}
