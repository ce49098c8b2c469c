import type { StoredEvent, Subscription } from '../event-store.port.js';
import type { AppendNotifications } from './append-notifications.js';
import { StoreUnavailableError } from '../errors.js';
import { isUnavailable, translatePgError } from './postgres-errors.js';
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
// The reader's poll or read that found the server unavailable is tried again after these
// waits (a dropped pooled connection, a restarting server) before it fails its subscriptions.
const UNAVAILABLE_RETRY_DELAYS_MS = [50, 200, 500];

/** One read of the log for subscriptions (a test hook reports them). */
export interface LogRead {
  /** The shared tail's read of a new range, or one subscription's own catch-up read. */
  by: 'tail' | 'catch-up';
  /** Exclusive. */
  after: bigint;
  /** Inclusive. */
  upTo: bigint;
  events: number;
}

interface TailConfig {
  gapProtection: GapProtection;
  onPoll?: (poll: { head: bigint; safeHead: bigint }) => void;
  onRead?: (read: LogRead) => void;
  /** The wait between polls when nothing happens (a test sets it long). */
  idleDelayMs?: number;
}

// The tail keeps this many of the latest events for its subscriptions; one further behind reads on its own.
export const TAIL_WINDOW_MAX = 4_096;

/**
 * The store's one reader of the log's live edge, shared by every subscription of the store
 * (one store per process, so one per process): on each wake (an append here, a NOTIFY from
 * elsewhere) it polls the gap horizon once and reads the new range once, in batches, into a
 * bounded window that each subscription takes its share of from its own position. It reads
 * a batch only when a subscription in the window has less than a batch left to take (so in a
 * burst it reads as fast as the fastest consumer, not ahead of everyone, and each event is
 * read once). A subscription behind the window (a catch-up, a consumer more than the window
 * behind the fastest) reads the log itself up to the window, then joins it; each one keeps
 * its own position and pace. The tail runs while any subscription is open. A poll or read
 * that finds the server unavailable is retried a few times; if it still fails, the
 * subscriptions waiting on the window fail with that error, those reading their own catch-up
 * go on (and start the tail again when they need it).
 */
export class LogTail {
  private readonly subscribers = new Set<PostgresSubscription>();
  private running: Promise<void> | undefined;
  private generation = 0;
  private woken = false;
  private wake: (() => void) | undefined;
  /** Waiting for a subscription to need more of a range already known final. */
  private stalled = false;
  private closed = false;
  /** Every event in (start, end] is in `window`, in order; every position at or below `end` is final. */
  private window: StoredEvent[] = [];
  private windowStart = 0n;
  private end = 0n;
  /** The latest safe head polled: every position at or below it is final (read or not). */
  private known = 0n;
  /** False until the first horizon that releases anything: until then the window has no start. */
  private ready = false;

  constructor(
    private readonly store: PostgresEventStore,
    private readonly notifications: AppendNotifications,
    private readonly config: TailConfig,
  ) {}

  /** Where a subscription at `after` stands: behind the window (read yourself up to `upTo`), in it, or waiting. */
  share(after: bigint): { read: bigint } | { events: StoredEvent[]; upTo: bigint } | undefined {
    if (!this.ready) return undefined;
    if (after < this.windowStart) return { read: this.windowStart };
    if (after >= this.end) return undefined;
    return { events: this.window.slice(firstAfter(this.window, after)), upTo: this.end };
  }

  /** A subscription's own read of final positions behind the window. */
  async readBehind(after: bigint, upTo: bigint): Promise<StoredEvent[]> {
    const events = await this.store.readRange(after, upTo, BATCH_SIZE);
    this.config.onRead?.({ by: 'catch-up', after, upTo, events: events.length });
    return events;
  }

  attach(subscription: PostgresSubscription): void {
    if (this.closed) return subscription.fail(new Error('the event store is closed'));
    this.subscribers.add(subscription);
    // A new subscription may want what a poll now would find (a NOTIFY lost): look at once.
    if (this.running) this.notify();
    else this.start();
  }

  /** A subscription has taken all the window has for it: read on if the tail waits for that. */
  waiting(subscription: PostgresSubscription): void {
    if (this.closed || !this.subscribers.has(subscription)) return;
    if (!this.running) this.start();
    else if (this.stalled) this.wake?.();
  }

  private start(): void {
    const generation = ++this.generation;
    this.running = this.run(generation);
  }

  detach(subscription: PostgresSubscription): void {
    this.subscribers.delete(subscription);
    if (this.subscribers.size === 0) this.notify();
  }

  close(): void {
    this.closed = true;
    this.notify();
  }

  private async run(generation: number): Promise<void> {
    const unlisten = await this.notifications.listen(() => this.notify());
    const horizon = new SnapshotHorizon(this.store, this.config.gapProtection);
    let heldDelayMs = HELD_DELAY_MS_MIN;
    // The last poll held nothing back and nothing woke the tail since it began: once the window
    // has read up to it, a poll now would find nothing new (every later commit wakes the tail).
    let settled = false;
    try {
      while (!this.closed && this.subscribers.size > 0) {
        if (this.ready && this.end < this.known) {
          if (this.wanted()) {
            await this.readBatch();
            continue;
          }
          if (!this.woken) {
            // Nobody needs more yet: wait for one to (see `waiting`), or for a commit (then poll).
            this.stalled = true;
            await this.sleep(this.config.idleDelayMs ?? IDLE_DELAY_MS, () => 0);
            this.stalled = false;
            continue;
          }
        }
        if (settled && !this.woken) {
          settled = false;
          await this.sleep(this.idleMs(), () => 0);
          continue;
        }
        settled = false;
        this.woken = false;
        const polledAt = performance.now();
        const { head, safeHead } = await this.retrying(() => horizon.poll());
        this.config.onPoll?.({ head, safeHead });
        if (safeHead > this.known) this.known = safeHead;
        if (!this.ready && (safeHead > 0n || head === 0n)) {
          this.windowStart = this.end = safeHead;
          this.ready = true;
          this.wakeSubscribers();
        }
        if (this.ready && this.end < this.known) {
          heldDelayMs = HELD_DELAY_MS_MIN;
          settled = head === safeHead;
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
        await this.sleep(this.idleMs(), () => 0);
      }
    } catch (error) {
      // Only those waiting on the window need the tail; one reading its own catch-up goes on.
      const failed = [...this.subscribers].filter((subscription) => !subscription.catchingUp);
      for (const subscription of failed) this.subscribers.delete(subscription);
      this.reset(generation, false);
      for (const subscription of failed) subscription.fail(error);
    } finally {
      unlisten();
      this.reset(generation);
    }
  }

  /**
   * Whether a subscription in the window has less than a batch left to take (or none): only
   * then is the next batch read. One that falls a window behind the fastest reads on its own.
   */
  private wanted(): boolean {
    for (const subscription of this.subscribers) {
      if (subscription.catchingUp) continue;
      const at = subscription.position;
      if (at >= this.end) return true;
      if (at >= this.windowStart && this.window.length - firstAfter(this.window, at) < BATCH_SIZE) return true;
    }
    return false;
  }

  /** The wait for a wake when nothing is held: long while NOTIFYs come, short without them. */
  private idleMs(): number {
    return this.notifications.connected ? (this.config.idleDelayMs ?? IDLE_DELAY_MS) : DISCONNECTED_DELAY_MS;
  }

  /** Reads the next batch of (end, known] into the window and wakes the subscriptions. */
  private async readBatch(): Promise<void> {
    const after = this.end;
    const upTo = this.known;
    const events = await this.retrying(() => this.store.readRange(after, upTo, BATCH_SIZE));
    this.config.onRead?.({ by: 'tail', after, upTo, events: events.length });
    for (const event of events) this.window.push(event);
    this.end = events.length < BATCH_SIZE ? upTo : events[events.length - 1]!.position;
    const excess = this.window.length - TAIL_WINDOW_MAX;
    if (excess > 0) {
      this.windowStart = this.window[excess - 1]!.position;
      this.window = this.window.slice(excess);
    }
    this.wakeSubscribers();
  }

  /** Runs a poll or read, again after a short wait while the server is unavailable. */
  private async retrying<T>(work: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        const delayMs = UNAVAILABLE_RETRY_DELAYS_MS[attempt];
        const unavailable = error instanceof StoreUnavailableError || isUnavailable(error);
        if (delayMs === undefined || !unavailable || this.closed || this.subscribers.size === 0) throw error;
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
  }

  /**
   * Forgets the window and lets the next subscription start the tail again (once per run);
   * `all`: forgets the subscriptions too (else those left start it again when they need it).
   */
  private reset(generation: number, all = true): void {
    if (generation !== this.generation || !this.running) return;
    this.running = undefined;
    if (all) this.subscribers.clear();
    this.window = [];
    this.windowStart = this.end = this.known = 0n;
    this.ready = false;
    this.stalled = false;
  }

  private wakeSubscribers(): void {
    for (const subscription of this.subscribers) subscription.notify();
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
}

/** The index of the first event after `position` (the window is in position order). */
function firstAfter(events: readonly StoredEvent[], position: bigint): number {
  let low = 0;
  let high = events.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (events[middle]!.position <= position) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * One follower of the log: takes its share of the tail's window from its own position, and
 * reads the log itself while it is behind the window. Pulled: nothing is read for it (beyond
 * the shared window) until it asks, which is the backpressure.
 */
export class PostgresSubscription implements Subscription {
  private closed = false;
  private started = false;
  private wake: (() => void) | undefined;
  private woken = false;
  private failure: { error: unknown } | undefined;
  /** Every event at or below this position has been delivered (or never existed). */
  position: bigint;
  /** Reading the log itself, behind the tail's window: it does not need the tail. */
  catchingUp = false;

  constructor(
    private readonly tail: LogTail,
    afterPosition: bigint,
    private readonly onClose: () => void,
  ) {
    this.position = afterPosition;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<StoredEvent> {
    if (this.started) throw new Error('a subscription can be iterated once');
    this.started = true;
    this.tail.attach(this);
    try {
      while (!this.closed) {
        if (this.failure) throw this.failure.error;
        this.woken = false;
        const share = this.tail.share(this.position);
        this.catchingUp = share !== undefined && 'read' in share;
        if (share && 'read' in share) {
          // Behind the window: its positions are final, read them here in batches.
          const events = await this.tail.readBehind(this.position, share.read);
          for (const event of events) {
            if (this.closed) return;
            yield event;
            this.position = event.position;
          }
          if (events.length < BATCH_SIZE && !this.closed) this.position = share.read;
          continue;
        }
        if (share) {
          for (const event of share.events) {
            if (this.closed) return;
            yield event;
            this.position = event.position;
          }
          if (!this.closed && this.position < share.upTo) this.position = share.upTo;
          continue;
        }
        this.tail.waiting(this);
        if (!this.woken) await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
      }
    } finally {
      this.tail.detach(this);
      this.onClose();
    }
  }

  /** The tail moved (or failed): look again. */
  notify(): void {
    this.woken = true;
    this.wake?.();
  }

  fail(error: unknown): void {
    this.failure = { error };
    this.notify();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.notify();
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
