import { setTimeout as delay } from 'node:timers/promises';
import type pg from 'pg';
import type { EventStore, StoredEvent } from '@ledger/event-store';
import { crashPoint } from '@ledger/platform';
import { checkpointsTable } from '../checkpoints/checkpoints.table.js';
import { LIVE_SCHEMA, type Projection, type RowChange } from '../projection.js';
import { batched } from './batches.js';
import { checkedSql, commitChecked, type CheckedSql, type OwnedChange } from './checked-statements.js';
import { ProjectionAssertionError } from './errors.js';
import { ProjectionLock, swapLockKey } from './projection-lock.js';

export const PROJECTIONS_CHANNEL = 'projections_advanced';

export interface RunnerLog {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

export interface ProjectionRunnerOptions {
  pool: pg.Pool;
  connectionString: string;
  store: EventStore;
  /** Applied together: one read of the log, one transaction per batch for all of them. */
  projections: readonly Projection[];
  log: RunnerLog;
  batchSizeMax?: number;
  /** Only for the crash test that shows why: 'separate' commits the checkpoints apart from the rows. */
  checkpointMode?: 'same-transaction' | 'separate';
  /** How long a standby waits between tries for the projections' locks. */
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

interface Member {
  projection: Projection;
  /** The stored checkpoint, as this runner last read or wrote it. */
  checkpoint: bigint;
  lastEventAt: Date | undefined;
  failed: string | undefined;
}

/** A member's part of a batch: the events after its own checkpoint (`from`). */
interface Slice {
  member: Member;
  from: bigint;
  events: readonly StoredEvent[];
}

/** A batch ready to commit: one transaction (two in the crash test's 'separate' mode). */
interface Prepared {
  slices: readonly Slice[];
  last: bigint;
  transactions: readonly CheckedSql[];
}

// Catch-up batches: large enough that the per-transaction costs fade, small enough to keep transactions short.
const BATCH_SIZE_MAX = 1_000;
const RESTART_DELAY_MS = 500;

/**
 * Runs a group of projections: holds the advisory lock of each (one active
 * runner per projection across replicas), reads the log once from the lowest
 * checkpoint, and applies each batch to every projection, with every moved
 * checkpoint, in one transaction sent in one round trip (row counts are
 * checked in the database), so a crash replays nothing twice and loses
 * nothing. Each projection gets only the events after its own checkpoint. The
 * checkpoint updates also fence: they only succeed from the positions this
 * runner read, so a runner that lost its locks can't write. A projection that
 * breaks its promises stops for good; the others go on without it.
 */
export class ProjectionRunner {
  private readonly members: Member[];
  private active = false;
  private standby = false;
  private readonly listeners = new Set<(projection: string, position: bigint) => void>();
  private readonly failureListeners = new Set<(error: ProjectionAssertionError) => void>();

  constructor(private readonly options: ProjectionRunnerOptions) {
    const names = options.projections.map((p) => p.name);
    if (names.length === 0 || new Set(names).size !== names.length) {
      throw new Error(`a runner needs distinct projections, got [${names.join(', ')}]`);
    }
    this.members = options.projections.map((projection) => ({
      projection,
      checkpoint: 0n,
      lastEventAt: undefined,
      failed: undefined,
    }));
  }

  status(): RunnerStatus[] {
    return this.members.map((m) => ({
      projection: m.projection.name,
      active: this.active && !m.failed,
      standby: this.standby && !m.failed,
      checkpoint: m.checkpoint,
      lastEventAt: m.lastEventAt,
      failed: m.failed,
    }));
  }

  /** Called with each projection's checkpoint: as read on (re)start, and after each batch that moved it. */
  onAdvance(listener: (projection: string, position: bigint) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called when a projection stops for good (an assertion failed). */
  onFailed(listener: (error: ProjectionAssertionError) => void): () => void {
    this.failureListeners.add(listener);
    return () => this.failureListeners.delete(listener);
  }

  /** Runs until `signal` aborts or every projection failed; survives store outages and lost locks by starting over. */
  async run(signal: AbortSignal): Promise<void> {
    const { log } = this.options;
    while (!signal.aborted) {
      const members = this.members.filter((m) => !m.failed);
      if (members.length === 0) return;
      const projections = members.map((m) => m.projection.name);
      const lock = new ProjectionLock(this.options.connectionString, projections);
      try {
        const acquired = await lock.acquire(signal, this.options.lockRetryMs ?? 2_000, () => (this.standby = true));
        if (!acquired) break;
        this.standby = false;
        this.active = true;
        log.info({ projections }, 'projection locks acquired');
        await this.follow(signal, lock, members);
      } catch (error) {
        if (error instanceof ProjectionAssertionError) this.fail(error);
        else if (!signal.aborted) log.warn({ err: error, projections }, 'projections interrupted; restarting');
      } finally {
        this.active = false;
        await lock.release();
      }
      await delay(RESTART_DELAY_MS, undefined, { signal }).catch(() => undefined);
    }
  }

  private fail(error: ProjectionAssertionError): void {
    const member = this.members.find((m) => m.projection.name === error.projection);
    // Every assertion names its projection; one that names none stops them all.
    for (const m of member ? [member] : this.members) m.failed = error.message;
    this.options.log.error({ err: error, projection: error.projection }, 'projection stopped: assertion failed');
    for (const listener of this.failureListeners) listener(error);
  }

  /**
   * Follows the log. While batch N commits, batch N+1 is mapped and rendered
   * (Node's work overlaps the database's), as if N had committed; if N fails,
   * N+1 is dropped with it and everything starts over from the stored checkpoints.
   */
  private async follow(signal: AbortSignal, lock: ProjectionLock, members: readonly Member[]): Promise<void> {
    await this.readCheckpoints(members);
    const from = members.reduce((min, m) => (m.checkpoint < min ? m.checkpoint : min), members[0]!.checkpoint);
    const subscription = this.options.store.subscribeToAll({ afterPosition: from });
    const stop = () => void subscription.close();
    signal.addEventListener('abort', stop, { once: true });
    lock.onLost(stop);
    // Stopped while the checkpoints were being read: the listener above came too late.
    if (signal.aborted || !lock.held) stop();
    // Where each projection will be once the batches prepared so far commit.
    const planned = new Map(members.map((m) => [m, m.checkpoint]));
    let committing: Promise<void> | undefined;
    let failure: { error: unknown } | undefined;
    try {
      for await (const batch of batched(subscription, this.options.batchSizeMax ?? BATCH_SIZE_MAX)) {
        const prepared = this.prepare(planned, batch);
        await committing;
        if (failure) break;
        if (!prepared) continue;
        if (!lock.held) throw new Error(`lost the locks of projections ${members.map((m) => m.projection.name)}`);
        committing = this.commit(prepared).catch((error: unknown) => {
          failure = { error };
          stop();
        });
      }
    } finally {
      signal.removeEventListener('abort', stop);
      await subscription.close();
      // Never leave a commit in flight behind: the locks are released after this.
      await committing;
    }
    if (failure) throw failure.error;
  }

  private async readCheckpoints(members: readonly Member[]): Promise<void> {
    const stored = await checkpointsTable.positions(
      this.options.pool,
      members.map((m) => m.projection.name),
    );
    for (const member of members) {
      const { name } = member.projection;
      const position = stored.get(name);
      if (position === undefined) throw new ProjectionAssertionError(name, `no checkpoint row for projection ${name}`);
      member.checkpoint = position;
    }
    // Waiters for a position already applied (by this runner before a restart, or another) learn it now.
    for (const member of members)
      for (const listener of this.listeners) listener(member.projection.name, member.checkpoint);
  }

  /** The batch's transaction: each projection's share of it and every moved checkpoint. Moves `planned` on. */
  private prepare(planned: Map<Member, bigint>, batch: readonly StoredEvent[]): Prepared | undefined {
    const slices = [...planned].flatMap(([member, from]): Slice[] => {
      const first = batch.findIndex((event) => event.position > from);
      return first < 0 ? [] : [{ member, from, events: first === 0 ? batch : batch.slice(first) }];
    });
    if (slices.length === 0) return undefined;
    const last = batch[batch.length - 1]!.position;
    const group = slices.map((s) => s.member.projection.name).join(', ');
    // A rebuild's swap takes these locks exclusively: no batch lands mid-swap.
    const rows: OwnedChange[] = [{ owner: group, change: swapLocks(slices) }];
    for (const { member, events } of slices) {
      const owner = member.projection.name;
      for (const change of member.projection.map(events, LIVE_SCHEMA)) rows.push({ owner, change });
    }
    const checkpoints: OwnedChange[] = [
      // Fenced: each from the position this runner read, or none.
      {
        owner: group,
        change: checkpointsTable.moveFenced(
          slices.map((s) => [s.member.projection.name, s.from]),
          last,
        ),
      },
      { owner: group, change: notify(last) },
    ];
    for (const { member } of slices) planned.set(member, last);
    return this.options.checkpointMode === 'separate'
      ? { slices, last, transactions: [checkedSql(rows), checkedSql(checkpoints)] }
      : { slices, last, transactions: [checkedSql([...rows, ...checkpoints])] };
  }

  private async commit({ slices, last, transactions }: Prepared): Promise<void> {
    for (const transaction of transactions) {
      // The batch's rows are rendered, nothing of them committed. Were the checkpoint committed
      // apart (the crash test's 'separate' mode), the second time is between the rows and it.
      crashPoint('projector.before-checkpoint');
      await commitChecked(this.options.pool, transaction);
    }
    crashPoint('projector.after-commit');
    for (const { member, events } of slices) {
      member.checkpoint = last;
      member.lastEventAt = events[events.length - 1]!.createdAt;
    }
    for (const { member } of slices) for (const listener of this.listeners) listener(member.projection.name, last);
  }
}

function swapLocks(slices: readonly Slice[]): RowChange {
  const locks = slices.map((s) => `pg_advisory_xact_lock_shared(${swapLockKey(s.member.projection.name)})`);
  return { text: `SELECT ${locks.join(', ')}`, values: [] };
}

function notify(position: bigint): RowChange {
  return { text: `SELECT pg_notify('${PROJECTIONS_CHANNEL}', $1)`, values: [position.toString()] };
}
