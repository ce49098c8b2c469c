import type pg from 'pg';
import type { EventStore } from '@ledger/event-store';
import { migrate } from '@ledger/platform';
import { PROJECTIONS, projectionMigrations } from '../schema.js';
import type { Projection } from '../projection.js';
import {
  ProjectionRunner,
  type ProjectionRunnerOptions,
  type RunnerLog,
  type RunnerStatus,
} from './projection-runner.js';

export interface ProjectorOptions {
  pool: pg.Pool;
  connectionString: string;
  store: EventStore;
  log: RunnerLog;
  projections?: readonly Projection[];
  batchSizeMax?: number;
  checkpointMode?: ProjectionRunnerOptions['checkpointMode'];
  lockRetryMs?: number;
  /** How often the head of the log is read for the lag figures. */
  lagIntervalMs?: number;
}

export interface ProjectorLag {
  head: bigint;
  /** Positions between the slowest projection's checkpoint and the head. */
  events: bigint;
  /** Age of the newest event the slowest projection has applied, while it is behind; 0 when caught up. */
  seconds: number;
}

const LAG_INTERVAL_MS = 1_000;

/**
 * Runs the projections as one group (one read of the log, one transaction per
 * batch for all of them; elected by the locks of all of them) and keeps the lag current.
 */
export class Projector {
  private readonly runner: ProjectionRunner;
  private readonly abort = new AbortController();
  private running: Promise<unknown> | undefined;
  private lagTimer: NodeJS.Timeout | undefined;
  private head = 0n;

  constructor(private readonly options: ProjectorOptions) {
    this.runner = new ProjectionRunner({
      pool: options.pool,
      connectionString: options.connectionString,
      store: options.store,
      projections: options.projections ?? PROJECTIONS,
      log: options.log,
      ...(options.batchSizeMax ? { batchSizeMax: options.batchSizeMax } : {}),
      ...(options.checkpointMode ? { checkpointMode: options.checkpointMode } : {}),
      ...(options.lockRetryMs ? { lockRetryMs: options.lockRetryMs } : {}),
    });
  }

  async start(): Promise<void> {
    await migrate(this.options.pool, projectionMigrations);
    this.running = this.runner.run(this.abort.signal);
    await this.refreshHead();
    this.lagTimer = setInterval(() => void this.refreshHead(), this.options.lagIntervalMs ?? LAG_INTERVAL_MS);
    this.lagTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.lagTimer);
    this.abort.abort();
    await this.running;
  }

  status(): RunnerStatus[] {
    return this.runner.status();
  }

  lag(): ProjectorLag {
    const statuses = this.status();
    const slowest = statuses.reduce((a, b) => (b.checkpoint < a.checkpoint ? b : a), statuses[0]!);
    const behind = this.head > slowest.checkpoint ? this.head - slowest.checkpoint : 0n;
    const seconds =
      behind > 0n && slowest.lastEventAt ? Math.max(0, (Date.now() - slowest.lastEventAt.getTime()) / 1000) : 0;
    return { head: this.head, events: behind, seconds };
  }

  /** Resolves once every projection of this process has applied `position`; rejects if one fails. */
  caughtUp(position: bigint, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        const statuses = this.status();
        const failed = statuses.find((s) => s.failed);
        if (failed) finish(new Error(`projection ${failed.projection} failed: ${failed.failed}`));
        else if (statuses.every((s) => s.checkpoint >= position)) finish();
      };
      const aborted = () => finish(signal?.reason);
      const offAdvance = this.runner.onAdvance(check);
      const offFailed = this.runner.onFailed(check);
      signal?.addEventListener('abort', aborted, { once: true });
      function finish(error?: unknown): void {
        offAdvance();
        offFailed();
        signal?.removeEventListener('abort', aborted);
        if (error === undefined) resolve();
        else reject(error);
      }
      if (signal?.aborted) aborted();
      else check();
    });
  }

  private async refreshHead(): Promise<void> {
    try {
      this.head = await this.options.store.headPosition();
    } catch {
      // The runners report the outage; the lag keeps its last head meanwhile.
    }
  }
}
