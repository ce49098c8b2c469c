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
 * The session-level advisory locks that elect one active runner per
 * projection across replicas; a runner of several projections holds the
 * lock of each, all on one connection. If that connection dies, Postgres
 * releases them, and `onLost` tells the runner to stop.
 */
export class ProjectionLock {
  private client: pg.Client | undefined;
  private lost = false;
  private readonly lostListeners = new Set<() => void>();
  private readonly projections: readonly string[];

  constructor(
    private readonly connectionString: string,
    projections: readonly string[],
  ) {
    // One order for every runner: see `tryAll`.
    this.projections = [...projections].sort();
  }

  get held(): boolean {
    return this.client !== undefined && !this.lost;
  }

  /** Tries until it holds every lock (true) or `signal` aborts (false); `onStandby` after each miss. */
  async acquire(signal: AbortSignal, retryMs: number, onStandby: () => void): Promise<boolean> {
    while (!signal.aborted) {
      const client = new pg.Client({ connectionString: this.connectionString });
      client.on('error', () => this.markLost());
      client.on('end', () => this.markLost());
      try {
        await client.connect();
        if (await this.tryAll(client)) {
          this.client = client;
          return true;
        }
      } catch (error) {
        await client.end().catch(() => undefined);
        throw error;
      }
      // Closing the session releases the locks it did get.
      await client.end();
      onStandby();
      await delay(retryMs, undefined, { signal }).catch(() => undefined);
    }
    return false;
  }

  /**
   * All or none, taken in name order and given up at the first miss: of two
   * runners after the same locks, the one that gets the first gets them all
   * (the other holds none of them), so neither starves the other.
   */
  private async tryAll(client: pg.Client): Promise<boolean> {
    for (const projection of this.projections) {
      const { rows } = await client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock($1::int, hashtext($2)) AS locked',
        [RUNNER_NAMESPACE, projection],
      );
      if (!rows[0]?.locked) return false;
    }
    return true;
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
