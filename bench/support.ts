import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres, type RunningPostgres } from '@ledger/platform';

export interface BenchDatabase {
  url: string;
  createDatabase(name: string): Promise<string>;
  close(): Promise<void>;
}

/** DATABASE_URL when given, else a fresh embedded PostgreSQL in a temporary folder. */
export async function benchDatabase(): Promise<BenchDatabase> {
  const external = process.env.DATABASE_URL;
  if (external) {
    return { url: external, createDatabase: async () => external, close: async () => undefined };
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'ledger-bench-'));
  await chmod(dataDir, 0o755);
  const postgres: RunningPostgres = await startEmbeddedPostgres({ dataDir });
  const stop = async () => {
    await postgres.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => void stop().then(() => process.exit(130)));
  return { url: postgres.url, createDatabase: (name) => postgres.createDatabase(name), close: stop };
}

export interface Measurement {
  operations: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

/**
 * Runs `operation` from `concurrency` loops for `durationMs` and reports the
 * rate and latency percentiles. Bounded in time and count (`operationsMax`).
 */
export async function measure(
  concurrency: number,
  durationMs: number,
  operation: (worker: number, i: number) => Promise<void>,
  operationsMax = 5_000_000,
): Promise<Measurement> {
  const latenciesMs: number[] = [];
  const started = performance.now();
  const deadline = started + durationMs;
  let issued = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let i = 0; performance.now() < deadline && issued < operationsMax; i++) {
        issued++;
        const t0 = performance.now();
        await operation(worker, i);
        latenciesMs.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latenciesMs.sort((a, b) => a - b);
  const at = (q: number) => latenciesMs[Math.min(latenciesMs.length - 1, Math.floor(q * latenciesMs.length))] ?? 0;
  return {
    operations: latenciesMs.length,
    seconds,
    perSecond: latenciesMs.length / seconds,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
  };
}

export function formatRow(cells: (string | number)[], widths: number[]): string {
  return cells.map((c, i) => String(c).padStart(widths[i] ?? 10)).join('  ');
}

/** Appends and the statements that committed them so far, from the service's /metrics (group commit). */
export async function appendGroups(serviceUrl: string): Promise<{ appends: number; commits: number }> {
  const text = await (await fetch(`${serviceUrl}/metrics`)).text();
  const value = (name: string, outcome: string) =>
    Number(new RegExp(`^${name}\\{outcome="${outcome}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  const together = 'ledger_event_store_append_group_size';
  // A group that fell back went one by one: each of its appends was its own commit.
  const alone = value(`${together}_sum`, 'one-by-one');
  return {
    appends: value(`${together}_sum`, 'together') + alone,
    commits: value(`${together}_count`, 'together') + alone,
  };
}
