import pg from 'pg';
import { load } from './load.js';
import type { BenchService } from './service.js';

/**
 * Projection lag under a steady load: every 20 ms, the head of the log and the
 * slowest projection's checkpoint. For each sample, the time until the
 * checkpoint passed the head seen then is that moment's lag.
 */
export async function measureLag(service: BenchService, rate: number, seconds: number) {
  const pool = new pg.Pool({ connectionString: service.databaseUrl, max: 2 });
  const samples: { at: number; head: bigint; checkpoint: bigint }[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const { rows } = await pool.query<{ head: string; checkpoint: string }>(
        `SELECT (SELECT coalesce(max(position), 0) FROM event_store.events)::text AS head,
                (SELECT min(position) FROM projections.checkpoints)::text AS checkpoint`,
      );
      samples.push({ at: performance.now(), head: BigInt(rows[0]!.head), checkpoint: BigInt(rows[0]!.checkpoint) });
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  const result = await load(service.url, 'start', 16, seconds, { overallRate: Math.max(1, Math.round(rate)) });
  sampling = false;
  await sampler;
  await pool.end();
  const lagMs: number[] = [];
  const lagPositions: number[] = [];
  for (let i = 0; i < samples.length; i++) {
    const { at, head, checkpoint } = samples[i]!;
    lagPositions.push(Number(head - checkpoint));
    const caught = samples.slice(i).find((s) => s.checkpoint >= head);
    if (caught) lagMs.push(caught.at - at);
  }
  return { rate: result.perSecond, lagMs: percentiles(lagMs), lagPositions: percentiles(lagPositions) };
}

function percentiles(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? 0 };
}
