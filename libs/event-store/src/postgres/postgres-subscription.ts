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
        if (this.woken) continue;
        let delayMs = this.notifications.connected ? IDLE_DELAY_MS : DISCONNECTED_DELAY_MS;
        if (head > safeHead) {
          delayMs = heldDelayMs;
          heldDelayMs = Math.min(heldDelayMs * 2, HELD_DELAY_MS_MAX);
        }
        await this.sleep(delayMs);
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

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
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
 * below one already visible. Snapshot S taken now shows the head H; every
 * invisible position below H belongs to a transaction that S lists as running
 * (it drew its xid before its position, so its xid is below S.xmax) or that
 * aborted. Once the oldest running xid is >= S.xmax, all of those have ended,
 * and every position <= H is final. So: remember (S.xmax, H) and release H
 * when the horizon passes S.xmax; with nothing running at all, H is final at once.
 */
class SnapshotHorizon {
  private safeHead = 0n;
  private readonly pending: { xmax: bigint; head: bigint }[] = [];

  constructor(
    private readonly store: PostgresEventStore,
    private readonly protection: GapProtection,
  ) {}

  async poll(): Promise<{ head: bigint; safeHead: bigint }> {
    let row: { xmin: string; xmax: string; head: string };
    try {
      const result = await this.store.pool.query<{ xmin: string; xmax: string; head: string }>(
        `SELECT pg_snapshot_xmin(s)::text AS xmin, pg_snapshot_xmax(s)::text AS xmax,
                (SELECT coalesce(max(position), 0) FROM event_store.events)::text AS head
         FROM pg_current_snapshot() AS s`,
      );
      row = result.rows[0]!;
    } catch (error) {
      translatePgError(error, 'subscribe');
    }
    const xmin = BigInt(row.xmin);
    const xmax = BigInt(row.xmax);
    const head = BigInt(row.head);
    if (this.protection === 'none' || xmin === xmax) {
      this.release(head);
      this.pending.length = 0;
      return { head, safeHead: this.safeHead };
    }
    while (this.pending.length > 0 && xmin >= this.pending[0]!.xmax) this.release(this.pending.shift()!.head);
    const last = this.pending.at(-1);
    if (head > this.safeHead && (!last || head > last.head)) {
      // Replacing the newest entry with a later one only delays it: still safe.
      if (this.pending.length === PENDING_HORIZONS_MAX) this.pending.pop();
      this.pending.push({ xmax, head });
    }
    return { head, safeHead: this.safeHead };
  }

  private release(head: bigint): void {
    if (head > this.safeHead) this.safeHead = head;
  }
}
