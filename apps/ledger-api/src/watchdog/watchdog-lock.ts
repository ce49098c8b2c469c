import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';

// Beside the projection runners' (7_245_100) and rebuild swaps' (7_245_200) namespaces,
// and the migrations' single key (7_245_001): a two-key lock never meets a one-key one.
const WATCHDOG_LOCK_NAMESPACE = 7_245_300;
const WATCHDOG_LOCK_KEY = 1;
/** How often a standby tries the lock, and the pause before a failed holder starts again. */
const LOCK_RETRY_MS = 1_000;
const RESTART_DELAY_MS = 500;

/**
 * The session-level advisory lock that elects one active watchdog across replicas, held on
 * a connection of its own: if this process dies or loses that connection, PostgreSQL
 * releases the lock and a standby takes it on its next try. The lock only saves work:
 * every expiry is fenced by the project stream's revision, so two watchdogs at once (a
 * handover in flight) are still safe.
 */
export class WatchdogLock {
  private client: pg.Client | undefined;
  private holding = false;

  /** `onLost`: the session holding the lock ended (the database restarted, a network cut). */
  constructor(
    private readonly connectionString: string,
    private readonly onLost: () => void,
    /** Another role elected the same way (the outbound dispatcher) passes its own key pair. */
    private readonly lockKey: readonly [namespace: number, key: number] = [WATCHDOG_LOCK_NAMESPACE, WATCHDOG_LOCK_KEY],
  ) {}

  get held(): boolean {
    return this.holding;
  }

  /**
   * The loop of a log follower that runs on one replica at a time (the outbound dispatcher,
   * the reconciliation checker): tries the lock every second; once held, runs `work`; when
   * `work` fails (it returns once it let go of the lock), reports it and starts again after a
   * short pause. Returns when `signal` aborts.
   */
  async runWhileHeld(
    work: () => Promise<void>,
    signal: AbortSignal,
    onFailure: (error: unknown) => void,
  ): Promise<void> {
    while (!signal.aborted) {
      try {
        if (!(await this.tryAcquire())) {
          await delay(LOCK_RETRY_MS, undefined, { signal }).catch(() => undefined);
          continue;
        }
        await work();
      } catch (error) {
        if (signal.aborted) return;
        onFailure(error);
        await delay(RESTART_DELAY_MS, undefined, { signal }).catch(() => undefined);
      }
    }
  }

  /**
   * One try: true when this process holds the lock (now or already). A standby keeps its
   * connection for the next try; a broken one is dropped and opened again then.
   */
  async tryAcquire(): Promise<boolean> {
    if (this.holding) return true;
    const client = await this.connection();
    const { rows } = await client.query<{ locked: boolean }>(
      'SELECT pg_try_advisory_lock($1::int, $2::int) AS locked',
      [...this.lockKey],
    );
    this.holding = rows[0]?.locked === true && this.client === client;
    return this.holding;
  }

  /** Closing the session releases the lock (and it is the only way a lost session ends). */
  async release(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.holding = false;
    await client?.end().catch(() => undefined);
  }

  private async connection(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = new pg.Client({ connectionString: this.connectionString, keepAlive: true });
    const lost = () => {
      if (this.client !== client) return;
      const held = this.holding;
      this.client = undefined;
      this.holding = false;
      void client.end().catch(() => undefined);
      if (held) this.onLost();
    };
    client.on('error', lost);
    client.on('end', lost);
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    this.client = client;
    return client;
  }
}
