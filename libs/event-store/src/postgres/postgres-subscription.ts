import type { StoredEvent, Subscription } from '../event-store.port.js';
import type { AppendNotifications } from './append-notifications.js';
import { translatePgError } from './postgres-errors.js';
import type { PostgresEventStore } from './postgres-event-store.js';

/**
 * `snapshot-horizon` delivers a position only once no transaction that could
 * still commit a lower position is running (see `SnapshotHorizon`). `none`
 * reads up to the highest visible position and exists only so a test can show
 * that doing so skips events.
 */
export type GapProtection = 'snapshot-horizon' | 'none';

const BATCH_SIZE = 500;
// Waits between polls when no NOTIFY came: bounded backoff while a transaction
// holds the horizon back (it may abort, which notifies nobody), a slow safety net otherwise.
const HELD_DELAY_MS_MIN = 2;
const HELD_DELAY_MS_MAX = 50;
// While the horizon is held, a commit (a wake) is polled for no sooner than this after the
// last poll: under steady load every commit wakes every subscriber, and each poll reads
// pg_stat_activity, so polls would follow the commit rate. Caps them; adds at most this much lag.
export const HELD_POLL_GAP_MS = 5;
const IDLE_DELAY_MS = 1_000;
const DISCONNECTED_DELAY_MS = 250;
const PENDING_HORIZONS_MAX = 64;

interface SubscriptionConfig {
  afterPosition: bigint;
  gapProtection: GapProtection;
  onPoll?: (poll: { head: bigint; safeHead: bigint }) => void;
  onClose: () => void;
}

export class PostgresSubscription implements Subscription {
  private closed = false;
  private woken = false;
  private wake: (() => void) | undefined;
  private started = false;
  private readonly horizon: SnapshotHorizon;

  constructor(
    private readonly store: PostgresEventStore,
    private readonly notifications: AppendNotifications,
    private readonly config: SubscriptionConfig,
  ) {
    this.horizon = new SnapshotHorizon(store, config.gapProtection);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<StoredEvent> {
    if (this.started) throw new Error('a subscription can be iterated once');
    this.started = true;
    const unlisten = await this.notifications.listen(() => this.notify());
    let after = this.config.afterPosition;
    let heldDelayMs = HELD_DELAY_MS_MIN;
    try {
      while (!this.closed) {
        this.woken = false;
        const polledAt = performance.now();
        const { head, safeHead } = await this.horizon.poll();
        this.config.onPoll?.({ head, safeHead });
        if (safeHead > after) {
          heldDelayMs = HELD_DELAY_MS_MIN;
          // Reads happen only when the consumer pulls: that is the backpressure.
          const events = await this.store.readRange(after, safeHead, BATCH_SIZE);
          for (const event of events) {
            if (this.closed) return;
            yield event;
            after = event.position;
          }
          continue;
        }
        if (head > safeHead) {
          // Held: polled again after a growing wait, or after a commit (which may be the one
          // holding it back), but never sooner than HELD_POLL_GAP_MS after this poll began.
          const delayMs = heldDelayMs;
          heldDelayMs = Math.min(heldDelayMs * 2, HELD_DELAY_MS_MAX);
          await this.sleep(delayMs, () => Math.ceil(HELD_POLL_GAP_MS - (performance.now() - polledAt)));
          continue;
        }
        if (this.woken) continue;
        await this.sleep(this.notifications.connected ? IDLE_DELAY_MS : DISCONNECTED_DELAY_MS, () => 0);
      }
    } finally {
      unlisten();
      this.config.onClose();
    }
  }

  private notify(): void {
    this.woken = true;
    this.wake?.();
  }

  /** Waits `ms`, or, once woken (at once if woken already), `onWake()` more ms (0: at once). */
  private sleep(ms: number, onWake: () => number): Promise<void> {
    return new Promise((resolve) => {
      let timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      const woken = () => {
        this.wake = undefined;
        const waitMs = onWake();
        if (waitMs <= 0) return done();
        clearTimeout(timer);
        timer = setTimeout(done, waitMs);
      };
      if (this.woken) woken();
      else this.wake = woken;
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
  }
}

/**
 * Which positions are final. A position is drawn from a sequence inside the
 * appending transaction, so a transaction still running can commit a position
 * below one already visible. One statement reads the head H (under its
 * snapshot) and then the transaction ids of every transaction running in this
 * database (from `pg_stat_activity`, read after that snapshot was taken).
 * Every invisible position below H belongs to a transaction that aborted, or
 * that is still running and so in that set: an appender takes its transaction
 * id before it draws a position (its first write locks a stream row), and it
 * drew its position before the one that committed H. So H is final once none
 * of those transactions is running any more; with none running, at once.
 *
 * (The snapshot's own xmin/xmax are not enough: a running transaction whose
 * id is above every completed one is in neither, see the regression test.)
 */
class SnapshotHorizon {
  private safeHead = 0n;
  private readonly pending: { running: ReadonlySet<string>; head: bigint }[] = [];

  constructor(
    private readonly store: PostgresEventStore,
    private readonly protection: GapProtection,
  ) {}

  async poll(): Promise<{ head: bigint; safeHead: bigint }> {
    let row: { head: string; running: string[] };
    try {
      const result = await this.store.pool.query<{ head: string; running: string[] }>({
        name: 'event_store.horizon',
        text: `SELECT (SELECT coalesce(max(position), 0) FROM event_store.events)::text AS head,
                coalesce(array_agg(a.backend_xid::text) FILTER (WHERE a.backend_xid IS NOT NULL), '{}') AS running
         FROM pg_stat_activity a
         WHERE a.datname = current_database()`,
      });
      row = result.rows[0]!;
    } catch (error) {
      translatePgError(error, 'subscribe');
    }
    const head = BigInt(row.head);
    const running = new Set(row.running);
    if (this.protection === 'none' || running.size === 0) {
      this.release(head);
      this.pending.length = 0;
      return { head, safeHead: this.safeHead };
    }
    // Transaction ids only grow, so one that left the running set never comes back.
    while (this.pending.length > 0 && ![...this.pending[0]!.running].some((xid) => running.has(xid))) {
      this.release(this.pending.shift()!.head);
    }
    const last = this.pending.at(-1);
    if (head > this.safeHead && (!last || head > last.head)) {
      // Replacing the newest entry with a later one only delays it: still safe.
      if (this.pending.length === PENDING_HORIZONS_MAX) this.pending.pop();
      this.pending.push({ running, head });
    }
    return { head, safeHead: this.safeHead };
  }

  private release(head: bigint): void {
    if (head > this.safeHead) this.safeHead = head;
  }
}
