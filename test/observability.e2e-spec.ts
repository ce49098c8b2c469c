import { readFile } from 'node:fs/promises';
import { startTestApp, type TestApp } from '@ledger/test-support';

const DASHBOARD = new URL('../deploy/grafana/dashboards/ledger.json', import.meta.url);
const ALERT_RULES = new URL('../deploy/prometheus/alerts.rules.json', import.meta.url);

interface Target {
  expr?: string;
  rawSql?: string;
  datasource: { type: string };
}
interface Dashboard {
  title: string;
  panels: { title: string; targets: Target[] }[];
}
interface RuleFile {
  groups: { name: string; rules: { alert: string; expr: string; for: string; labels: Record<string, string> }[] }[];
}

const PROMQL_WORDS = new Set([
  'sum',
  'max',
  'min',
  'avg',
  'count',
  'rate',
  'irate',
  'increase',
  'histogram_quantile',
  'time',
  'or',
  'and',
  'unless',
  'abs',
  'clamp_min',
  'delta',
]);

/** The metric names a PromQL expression reads: its identifiers without label matchers, label lists and functions. */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"[^"]*"/g, '')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  return (stripped.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? []).filter((word) => !PROMQL_WORDS.has(word));
}

/** The series names /metrics exports: each metric, and a histogram's _bucket/_count/_sum. */
function exported(text: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!);
    if (type === 'histogram') for (const suffix of ['_bucket', '_count', '_sum']) names.add(`${name}${suffix}`);
    if (type === 'summary') for (const suffix of ['_count', '_sum']) names.add(`${name}${suffix}`);
  }
  return names;
}

/** deploy/: the Grafana dashboard and the Prometheus alert rules read only what the service exports. */
describe('dashboard and alert rules', () => {
  let t: TestApp;
  let metrics: Set<string>;
  let dashboard: Dashboard;
  let rules: RuleFile;
  beforeAll(async () => {
    t = await startTestApp('observability');
    // A reconciliation, so its gauges have a value (they are exported either way).
    const reconcile = await t.app.inject({
      method: 'GET',
      url: '/v1/audit/reconciliation',
      headers: { authorization: `Bearer ${t.keys.audit}` },
    });
    expect(reconcile.statusCode).toBe(200);
    const response = await t.app.inject({ method: 'GET', url: '/metrics' });
    metrics = exported(response.body);
    dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as Dashboard;
    rules = JSON.parse(await readFile(ALERT_RULES, 'utf8')) as RuleFile;
  });
  afterAll(async () => {
    await t.close();
  });

  it('reads PromQL metric names (the check can fail)', () => {
    expect(metricNames('sum by (le, route) (rate(a_bucket{method="POST"}[5m])) > 0.5 or max(b)')).toEqual([
      'a_bucket',
      'b',
    ]);
    expect(metrics.has('ledger_http_request_duration_seconds_bucket')).toBe(true);
    expect(metrics.has('ledger_no_such_metric')).toBe(false);
  });

  it('every metric of the dashboard is exported by /metrics', () => {
    const used = dashboard.panels.flatMap((p) => p.targets.flatMap((target) => metricNames(target.expr ?? '')));
    expect(used.length).toBeGreaterThan(15);
    expect(used.filter((name) => !metrics.has(name))).toEqual([]);
  });

  it('every metric of the alert rules is exported by /metrics, and each rule is complete', () => {
    const all = rules.groups.flatMap((group) => group.rules);
    expect(all.length).toBeGreaterThan(5);
    for (const rule of all) {
      expect(rule).toMatchObject({ alert: expect.any(String), expr: expect.any(String), for: expect.any(String) });
      expect(['page', 'ticket']).toContain(rule.labels['severity']);
    }
    const used = all.flatMap((rule) => metricNames(rule.expr));
    expect(used.filter((name) => !metrics.has(name))).toEqual([]);
  });

  it('covers commands, latency, errors, projection lag, watchdog, reconciliation and credits per day', () => {
    const text = JSON.stringify(dashboard);
    for (const metric of [
      'ledger_http_request_duration_seconds_count',
      'ledger_http_errors_total',
      'ledger_projection_lag_events',
      'ledger_projection_lag_seconds',
      'ledger_watchdog_active',
      'ledger_reconciliation_mismatches',
    ]) {
      expect(text).toContain(metric);
    }
    expect(text).toContain('reporting.daily_usage');
  });

  it("the dashboard's SQL panels run against the reporting views", async () => {
    const queries = dashboard.panels.flatMap((p) => p.targets.flatMap((target) => target.rawSql ?? []));
    expect(queries.length).toBeGreaterThan(0);
    for (const sql of queries) {
      // Grafana's macro, as it would expand it for "the last 30 days".
      const expanded = sql.replace(/\$__timeFilter\(([^)]*)\)/g, `$1 > now() - interval '30 days'`);
      await expect(t.runtime.pool.query(expanded)).resolves.toBeDefined();
    }
  });
});
