import { setTimeout as delay } from 'node:timers/promises';
import type pg from 'pg';
import type { EventStore, StoredEvent } from '@ledger/event-store';
import { CHECKPOINTS_TABLE } from '../schema.js';
import { LIVE_SCHEMA, type Projection, type RowChange } from '../projection.js';
import { batched } from './batches.js';
import { render } from './render.js';
import { ProjectionLock, swapLockKey } from './projection-lock.js';

export const PROJECTIONS_CHANNEL = 'projections_advanced';

/** The checkpoint moved under this runner (another one took over meanwhile): start again from it. */
export class FencedOffError extends Error {
  override readonly name = 'FencedOffError';
}

/** A projection wrote other rows than its mapping promised: a bug or corrupt tables. Nothing retries it. */
export class ProjectionAssertionError extends Error {
  override readonly name = 'ProjectionAssertionError';
}

export interface RunnerLog {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

export interface ProjectionRunnerOptions {
  pool: pg.Pool;
  connectionString: string;
  store: EventStore;
  projection: Projection;
  log: RunnerLog;
  batchSizeMax?: number;
  /** Only for the crash test that shows why: 'separate' commits the checkpoint apart from the rows. */
  checkpointMode?: 'same-transaction' | 'separate';
  /** How long a standby waits between tries for the projection's lock. */
  lockRetryMs?: number;
}

export interface RunnerStatus {
  projection: string;
  active: boolean;
  /** Another replica holds the lock; this runner waits to take over. */
  standby: boolean;
  checkpoint: bigint;
  lastEventAt: Date | undefined;
  failed: string | undefined;
}

const BATCH_SIZE_MAX = 1000;
const RESTART_DELAY_MS = 500;

/**
 * Runs one projection: holds its advisory lock (one active runner across
 * replicas), follows the log from its checkpoint and applies each batch and
 * the new checkpoint in one transaction, so a crash replays nothing twice and
 * loses nothing. The checkpoint update also fences: it only succeeds from the
 * position this runner read, so a runner that lost its lock can't write.
 */
export class ProjectionRunner {
  private checkpoint = 0n;
  private lastEventAt: Date | undefined;
  private active = false;
  private standby = false;
  private failed: string | undefined;
  private readonly listeners = new Set<(position: bigint) => void>();
  private readonly failureListeners = new Set<(error: ProjectionAssertionError) => void>();

  constructor(private readonly options: ProjectionRunnerOptions) {}

  get name(): string {
    return this.options.projection.name;
  }

  status(): RunnerStatus {
    return {
      projection: this.name,
      active: this.active,
      standby: this.standby,
      checkpoint: this.checkpoint,
      lastEventAt: this.lastEventAt,
      failed: this.failed,
    };
  }

  onAdvance(listener: (position: bigint) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called when the projection stops for good (an assertion failed). */
  onFailed(listener: (error: ProjectionAssertionError) => void): () => void {
    this.failureListeners.add(listener);
    return () => this.failureListeners.delete(listener);
  }

  /** Runs until `signal` aborts; survives store outages and lost locks by starting over. */
  async run(signal: AbortSignal): Promise<void> {
    const { log } = this.options;
    while (!signal.aborted) {
      const lock = new ProjectionLock(this.options.connectionString, this.name);
      try {
        const acquired = await lock.acquire(signal, this.options.lockRetryMs ?? 2_000, () => (this.standby = true));
        if (!acquired) break;
        this.standby = false;
        this.active = true;
        log.info({ projection: this.name }, 'projection lock acquired');
        await this.follow(signal, lock);
      } catch (error) {
        if (error instanceof ProjectionAssertionError) {
          this.failed = error.message;
          log.error({ err: error, projection: this.name }, 'projection stopped: assertion failed');
          for (const listener of this.failureListeners) listener(error);
          return;
        }
        if (!signal.aborted) log.warn({ err: error, projection: this.name }, 'projection interrupted; restarting');
      } finally {
        this.active = false;
        await lock.release();
      }
      await delay(RESTART_DELAY_MS, undefined, { signal }).catch(() => undefined);
    }
  }

  private async follow(signal: AbortSignal, lock: ProjectionLock): Promise<void> {
    this.checkpoint = await this.readCheckpoint();
    const subscription = this.options.store.subscribeToAll({ afterPosition: this.checkpoint });
    const stop = () => void subscription.close();
    signal.addEventListener('abort', stop, { once: true });
    lock.onLost(stop);
    // Stopped while the checkpoint was being read: the listener above came too late.
    if (signal.aborted || !lock.held) stop();
    try {
      for await (const batch of batched(subscription, this.options.batchSizeMax ?? BATCH_SIZE_MAX)) {
        if (!lock.held) throw new Error(`lost the lock of projection ${this.name}`);
        await this.apply(batch);
      }
    } finally {
      signal.removeEventListener('abort', stop);
      await subscription.close();
    }
  }

  private async readCheckpoint(): Promise<bigint> {
    const { rows } = await this.options.pool.query<{ position: string }>(
      `SELECT position FROM ${CHECKPOINTS_TABLE} WHERE projection = $1`,
      [this.name],
    );
    if (!rows[0]) throw new ProjectionAssertionError(`no checkpoint row for projection ${this.name}`);
    return BigInt(rows[0].position);
  }

  private async apply(batch: readonly StoredEvent[]): Promise<void> {
    const { projection } = this.options;
    const changes: RowChange[] = projection.map(batch, LIVE_SCHEMA);
    const last = batch[batch.length - 1]!;
    const checkpoint: RowChange = {
      text: `UPDATE ${CHECKPOINTS_TABLE} SET position = $1, updated_at = now() WHERE projection = $2 AND position = $3`,
      values: [last.position, this.name, this.checkpoint],
      expectRows: 1,
      fence: true,
    };
    const separate = this.options.checkpointMode === 'separate';
    await this.transaction([
      // A rebuild's swap takes this lock exclusively: no batch lands mid-swap.
      { text: `SELECT pg_advisory_xact_lock_shared(${swapLockKey(this.name)})`, values: [] },
      ...changes,
      ...(separate ? [] : [checkpoint, notify(last.position)]),
    ]);
    if (separate) await this.transaction([checkpoint, notify(last.position)]);
    this.checkpoint = last.position;
    this.lastEventAt = last.createdAt;
    for (const listener of this.listeners) listener(last.position);
  }

  /** All statements in one round trip, row counts asserted before COMMIT. */
  private async transaction(changes: readonly RowChange[]): Promise<void> {
    const client = await this.options.pool.connect();
    try {
      const results = (await client.query(`BEGIN;\n${changes.map(render).join(';\n')}`)) as unknown as pg.QueryResult[];
      assertRowCounts(this.name, changes, results.slice(1)); // results[0] is BEGIN
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }
}

/** Every change that promised a row count changed exactly that many rows. */
export function assertRowCounts(name: string, changes: readonly RowChange[], results: readonly pg.QueryResult[]): void {
  changes.forEach((change, i) => {
    const rowCount = results[i]?.rowCount;
    if (change.expectRows !== undefined && rowCount !== change.expectRows) {
      if (change.fence) throw new FencedOffError(`${name}: the checkpoint moved under this runner`);
      throw new ProjectionAssertionError(
        `${name}: expected ${change.expectRows} row(s), changed ${rowCount}: ${change.text.slice(0, 120)} [${change.values.slice(0, 2).join(', ')}]`,
      );
    }
  });
}

function notify(position: bigint): RowChange {
  return { text: `SELECT pg_notify('${PROJECTIONS_CHANNEL}', $1)`, values: [position.toString()] };
}
