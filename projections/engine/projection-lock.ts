import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';

// Advisory lock keys: one namespace for "the active runner of projection X",
// another for "a rebuild is swapping projection X's tables".
const RUNNER_NAMESPACE = 7_245_100;
const SWAP_NAMESPACE = 7_245_200;

export function swapLockKey(projection: string): string {
  return `(${SWAP_NAMESPACE}::bigint << 32) + (hashtext('${projection.replace(/'/g, "''")}')::bigint & 4294967295)`;
}

/**
 * The session-level advisory lock that elects one active runner per
 * projection across replicas. Held on its own connection: if that connection
 * dies, Postgres releases the lock, and `onLost` tells the runner to stop.
 */
export class ProjectionLock {
  private client: pg.Client | undefined;
  private lost = false;
  private readonly lostListeners = new Set<() => void>();

  constructor(
    private readonly connectionString: string,
    private readonly projection: string,
  ) {}

  get held(): boolean {
    return this.client !== undefined && !this.lost;
  }

  /** Tries until it holds the lock (true) or `signal` aborts (false); `onStandby` after each miss. */
  async acquire(signal: AbortSignal, retryMs: number, onStandby: () => void): Promise<boolean> {
    while (!signal.aborted) {
      const client = new pg.Client({ connectionString: this.connectionString });
      client.on('error', () => this.markLost());
      client.on('end', () => this.markLost());
      await client.connect();
      const { rows } = await client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock($1::int, hashtext($2)) AS locked',
        [RUNNER_NAMESPACE, this.projection],
      );
      if (rows[0]?.locked) {
        this.client = client;
        return true;
      }
      await client.end();
      onStandby();
      await delay(retryMs, undefined, { signal }).catch(() => undefined);
    }
    return false;
  }

  onLost(listener: () => void): void {
    this.lostListeners.add(listener);
  }

  private markLost(): void {
    if (this.lost || !this.client) return;
    this.lost = true;
    for (const listener of this.lostListeners) listener();
  }

  async release(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    // Closing the session releases the lock.
    await client?.end().catch(() => undefined);
  }
}
