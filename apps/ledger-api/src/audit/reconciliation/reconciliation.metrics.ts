import { Gauge } from 'prom-client';

/** What the gauges read when scraped: the continuous reconciliation's tables (any replica's checker). */
export interface ReconciliationGaugeSource {
  progress(): Promise<{ checkedPosition: number; lagEvents: number; mismatches: number; violations: number }>;
}

let source: ReconciliationGaugeSource | undefined;

/** The service in this process that the gauges read (tests build several apps in one process: the last wins). */
export function setReconciliationGaugeSource(next: ReconciliationGaugeSource | undefined): void {
  source = next;
}

type Figure = 'checkedPosition' | 'lagEvents' | 'mismatches' | 'violations';

function gauge(name: string, help: string, figure: Figure): Gauge {
  return new Gauge({
    name,
    help,
    async collect() {
      const progress = await source?.progress().catch(() => undefined);
      if (progress) this.set(progress[figure]);
    },
  });
}

/** Made once per process, on prom-client's default registry (like ledgerMetrics). */
export const reconciliationMetrics = (() => ({
  checkedPosition: gauge(
    'ledger_reconciliation_checked_position',
    'The position up to which the continuous reconciliation has folded the log and compared the read models',
    'checkedPosition',
  ),
  lag: gauge(
    'ledger_reconciliation_lag_events',
    "Events between the log's head and the continuous reconciliation's checked position",
    'lagEvents',
  ),
  mismatches: gauge(
    'ledger_reconciliation_open_mismatches',
    'Read-model rows the continuous reconciliation finds different from its fold of the log, now',
    'mismatches',
  ),
  violations: gauge(
    'ledger_reconciliation_open_violations',
    'Invariant violations the continuous reconciliation has found and not cleared',
    'violations',
  ),
}))();
