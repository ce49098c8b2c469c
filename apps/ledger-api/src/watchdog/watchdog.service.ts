import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { crashPoint } from '@ledger/platform';
import type pg from 'pg';
import { CLOCK, type Clock } from '../commands/clock.js';
import { CommandExecutor } from '../commands/command-executor.js';
import type { LedgerConfig, WatchdogConfig } from '../config/ledger-config.js';
import { ok } from '../http/answers.js';
import { LEDGER_CONFIG, PG_POOL } from '../infrastructure/tokens.js';
import { DUE_PROJECTS_LIMIT_MAX, findDueProjects, type DueProject } from './due-projects.js';
import { expireContext } from './expire-project/expire-context.js';
import { expireProject } from './expire-project/expire-project.handler.js';
import { sweepDueLots } from './expire-credits/lot-sweep.js';
import { WatchdogLock } from './watchdog-lock.js';

/** `off`: disabled by configuration; `stopped`: the application shut down. */
export type WatchdogRole = 'off' | 'standby' | 'active' | 'stopped';

export interface WatchdogStatus {
  role: WatchdogRole;
  intervalMs: number;
  attemptsMax: number;
  /** The service clock's instant the last sweep of this process judged by. */
  lastSweepAt: string | null;
  sweeps: number;
  /** Projects this process's sweeps failed (with their refunds) since it started. */
  projectsFailed: number;
  /** Lots whose expiry this process's sweeps recorded since it started. */
  lotsExpired: number;
  /** What went wrong last (a lock try, a sweep's query or commands); cleared by a clean sweep. */
  lastError: string | null;
}

export interface SweepResult {
  /** False unless this process holds the watchdog lock: only the active watchdog sweeps. */
  swept: boolean;
  /** Candidates the read model offered (at most DUE_PROJECTS_LIMIT_MAX). */
  due: number;
  /** Of those, the projects this sweep failed. */
  failed: number;
  errors: number;
  /** Present when the sweep ran: lots the read model offered as past their expiry (at most DUE_LOTS_LIMIT_MAX). */
  lotsDue?: number;
  /** Of those, the lots whose expiry this sweep recorded. */
  lotsExpired?: number;
}

// Expiries of one sweep run side by side, each on its own project stream; bounded so a
// backlog after an outage does not take every connection of the pool.
const EXPIRE_CONCURRENCY_MAX = 4;
// A standby tries for the lock this often at least, however long the sweep interval.
const LOCK_RETRY_MS_MAX = 5_000;

/**
 * Fails projects that would otherwise stay in flight forever, holding credits (DESIGN.md,
 * failure 4): past their deadline, or out of attempts with the lease run out. And records
 * the expiry of every lot past its `expiresAt` (API.md, credit lots) within its interval. One replica
 * is active (a PostgreSQL advisory lock), the others stand by and take over when it goes.
 * Every interval the active one reads the due projects from the read model and sends each
 * an ExpireProject through the command executor, like any caller.
 */
@Injectable()
export class WatchdogService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly config: WatchdogConfig;
  private readonly lock: WatchdogLock;
  private readonly abort = new AbortController();
  private readonly listeners = new Set<(status: WatchdogStatus) => void>();
  private running: Promise<void> | undefined;
  private sweeping: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private counters: Pick<WatchdogStatus, 'lastSweepAt' | 'sweeps' | 'projectsFailed' | 'lotsExpired' | 'lastError'> = {
    lastSweepAt: null,
    sweeps: 0,
    projectsFailed: 0,
    lotsExpired: 0,
    lastError: null,
  };

  constructor(
    @Inject(LEDGER_CONFIG) config: LedgerConfig,
    @Inject(PG_POOL) private readonly pool: pg.Pool,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly commands: CommandExecutor,
    private readonly log: PinoLogger,
  ) {
    this.config = config.watchdog;
    this.lock = new WatchdogLock(config.databaseUrl!, () => {
      this.log.logger.warn('watchdog: lost the lock session; standing by until it is taken again');
      this.changed();
    });
  }

  onApplicationBootstrap(): void {
    if (this.config.enabled) this.running = this.run(this.abort.signal);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.running;
    await this.sweeping;
    await this.lock.release();
    this.changed();
  }

  status(): WatchdogStatus {
    const role: WatchdogRole = !this.config.enabled
      ? 'off'
      : this.stopped
        ? 'stopped'
        : this.lock.held
          ? 'active'
          : 'standby';
    return { role, intervalMs: this.config.intervalMs, attemptsMax: this.config.attemptsMax, ...this.counters };
  }

  /** Called after every lock try and sweep with the status then; returns the unsubscribe. */
  onStatus(listener: (status: WatchdogStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** One sweep now, after any sweep in progress: what every interval runs, and what tests await. */
  sweep(): Promise<SweepResult> {
    const next = this.sweeping.then(() => this.sweepOnce());
    this.sweeping = next.catch(() => undefined);
    return next;
  }

  private async run(signal: AbortSignal): Promise<void> {
    const retryMs = Math.min(this.config.intervalMs, LOCK_RETRY_MS_MAX);
    while (!signal.aborted) {
      const active = await this.tryLock();
      if (active) await this.sweep();
      await delay(active ? this.config.intervalMs : retryMs, undefined, { signal }).catch(() => undefined);
    }
  }

  private async tryLock(): Promise<boolean> {
    const wasActive = this.lock.held;
    try {
      const active = await this.lock.tryAcquire();
      if (active && !wasActive) this.log.logger.info('watchdog: active (holds the lock)');
      return active;
    } catch (error) {
      this.counters.lastError = `lock: ${(error as Error).message}`;
      this.log.logger.warn({ err: error }, 'watchdog: cannot try the lock; standing by');
      return false;
    } finally {
      this.changed();
    }
  }

  private async sweepOnce(): Promise<SweepResult> {
    if (!this.lock.held || this.abort.signal.aborted) return { swept: false, due: 0, failed: 0, errors: 0 };
    const now = this.clock.now();
    const result: SweepResult = { swept: true, due: 0, failed: 0, errors: 0 };
    let lastError: string | null = null;
    try {
      const due = await findDueProjects(this.pool, {
        now,
        attemptsMax: this.config.attemptsMax,
        limit: DUE_PROJECTS_LIMIT_MAX,
      });
      result.due = due.length;
      const correlationId = `watchdog-sweep-${randomUUID()}`;
      let next = 0;
      const worker = async () => {
        while (next < due.length && !this.abort.signal.aborted) {
          const error = await this.expire(due[next++]!, correlationId, result);
          if (error) lastError = error;
        }
      };
      await Promise.all(Array.from({ length: Math.min(EXPIRE_CONCURRENCY_MAX, due.length) }, worker));
    } catch (error) {
      result.errors++;
      lastError = `due projects: ${(error as Error).message}`;
      this.log.logger.warn({ err: error }, 'watchdog: cannot read the due projects');
    }
    // Lots after projects: a project failed above may have refunded credits to an expired
    // lot, which its own append already expired, so the order changes no amount.
    try {
      const lots = await sweepDueLots(
        this.pool,
        this.commands,
        { now, correlationId: `watchdog-lots-${randomUUID()}`, signal: this.abort.signal },
        (error, lot) => this.log.logger.warn({ err: error, ...lot }, 'watchdog: cannot expire the lot'),
      );
      result.lotsDue = lots.due;
      result.lotsExpired = lots.expired;
      result.errors += lots.errors;
      lastError = lots.lastError ?? lastError;
    } catch (error) {
      result.errors++;
      lastError = `due lots: ${(error as Error).message}`;
      this.log.logger.warn({ err: error }, 'watchdog: cannot read the lots due for expiry');
    }
    this.counters = {
      lastSweepAt: now.toISOString(),
      sweeps: this.counters.sweeps + 1,
      projectsFailed: this.counters.projectsFailed + result.failed,
      lotsExpired: this.counters.lotsExpired + (result.lotsExpired ?? 0),
      lastError,
    };
    if ((result.lotsExpired ?? 0) > 0) this.log.logger.info({ ...result }, 'watchdog: recorded expired lots');
    if (result.failed > 0) this.log.logger.info({ ...result }, 'watchdog: failed projects past deadline or attempts');
    this.changed();
    return result;
  }

  /** One project; a refusal or an outage is logged and left to the next sweep. Returns the error, if any. */
  private async expire(project: DueProject, correlationId: string, result: SweepResult): Promise<string | undefined> {
    try {
      const command = {
        type: 'ExpireProject',
        projectId: project.projectId,
        attemptsMax: this.config.attemptsMax,
      } as const;
      // Recorded as any caller's answer would be (200 and the reply), so the log reads the same.
      const outcome = await this.commands.execute(expireContext(project, correlationId), expireProject, command, ok);
      crashPoint('watchdog.after-project-expired');
      // Only this sweep's own decision counts: not a replay, not a project someone else ended.
      if (!outcome.replayed && (outcome.decision.project ?? []).length > 0) result.failed++;
      return undefined;
    } catch (error) {
      result.errors++;
      this.log.logger.warn({ err: error, projectId: project.projectId }, 'watchdog: cannot expire the project');
      return `${project.projectId}: ${(error as Error).message}`;
    }
  }

  /** A listener that throws must not stop the watchdog's loop. */
  private changed(): void {
    const status = this.status();
    for (const listener of this.listeners) {
      try {
        listener(status);
      } catch (error) {
        this.log.logger.warn({ err: error }, 'watchdog: a status listener failed');
      }
    }
  }
}
