import { collectDefaultMetrics, Counter, Gauge, Histogram, register } from 'prom-client';

/** Where the gauges read at scrape time: set by the app that serves /metrics (MetricsSources). */
export interface MetricsSource {
  /** Events between the head of the log and the slowest projection, and its age in seconds. */
  projectionLag(): Promise<{ events: number; seconds: number }>;
  watchdog(): {
    active: boolean;
    lastSweepAt: string | null;
    sweeps: number;
    projectsFailed: number;
    lotsExpired: number;
  };
}

let source: MetricsSource | undefined;

/** The app whose state the gauges report (tests build several apps in one process: the last one). */
export function setMetricsSource(next: MetricsSource | undefined, previous?: MetricsSource): void {
  if (next !== undefined || source === previous) source = next;
}

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
    httpErrors: new Counter({
      name: 'ledger_http_errors_total',
      help: 'Error answers by status and error code (API.md "Errors")',
      labelNames: ['status', 'code'] as const,
    }),
    projectionLagEvents: new Gauge({
      name: 'ledger_projection_lag_events',
      help: 'Events of the log the slowest projection has not applied yet',
      async collect() {
        if (source) this.set((await source.projectionLag()).events);
      },
    }),
    projectionLagSeconds: new Gauge({
      name: 'ledger_projection_lag_seconds',
      help: 'How long the oldest event the slowest projection has not applied has waited (0 when caught up)',
      async collect() {
        if (source) this.set((await source.projectionLag()).seconds);
      },
    }),
    watchdogActive: new Gauge({
      name: 'ledger_watchdog_active',
      help: "1 when this replica's watchdog holds the lock and sweeps; one replica should",
      collect() {
        if (source) this.set(source.watchdog().active ? 1 : 0);
      },
    }),
    watchdogLastSweep: new Gauge({
      name: 'ledger_watchdog_last_sweep_timestamp_seconds',
      help: "When this replica's watchdog last swept (unix seconds; 0: never)",
      collect() {
        const at = source?.watchdog().lastSweepAt;
        this.set(at ? Date.parse(at) / 1000 : 0);
      },
    }),
    watchdogSweeps: new Gauge({
      name: 'ledger_watchdog_sweeps',
      help: "Sweeps of this replica's watchdog since it started",
      collect() {
        if (source) this.set(source.watchdog().sweeps);
      },
    }),
    watchdogProjectsFailed: new Gauge({
      name: 'ledger_watchdog_projects_failed',
      help: "Projects this replica's watchdog failed (past deadline or attempts, refunded) since it started",
      collect() {
        if (source) this.set(source.watchdog().projectsFailed);
      },
    }),
    watchdogLotsExpired: new Gauge({
      name: 'ledger_watchdog_lots_expired',
      help: "Lots whose expiry this replica's watchdog recorded since it started",
      collect() {
        if (source) this.set(source.watchdog().lotsExpired);
      },
    }),
    reconciliationMismatches: new Gauge({
      name: 'ledger_reconciliation_mismatches',
      help: 'Read-model rows that disagreed with a fold of the log at the last reconciliation (GET /v1/audit/reconciliation)',
    }),
    reconciliationViolations: new Gauge({
      name: 'ledger_reconciliation_violations',
      help: 'Invariant violations found by the last reconciliation',
    }),
    reconciliationLastRun: new Gauge({
      name: 'ledger_reconciliation_last_run_timestamp_seconds',
      help: 'When the last reconciliation finished (unix seconds)',
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
