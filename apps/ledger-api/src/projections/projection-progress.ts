import pg from 'pg';
import { checkpointsTable, PROJECTIONS, PROJECTIONS_CHANNEL } from '@ledger/projections';
import { ApiError } from '../errors/api-error.js';

// A NOTIFY can be missed (a dropped LISTEN connection); a slow re-read bounds the cost of that.
const RECHECK_MS = 100;
export const WAIT_MS_DEFAULT = 2_000;
export const WAIT_MS_MAX = 30_000;
const NAMES = PROJECTIONS.map((p) => p.name);

/**
 * Read-your-writes: a query with `minPosition` waits (at most `waitMs`) until
 * every projection has applied that position. Works whether the projector
 * runs in this process or elsewhere: it reads the checkpoints table, woken by
 * the NOTIFY each applied batch sends.
 */
export class ProjectionProgress {
  private listener: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private readonly waiters = new Set<() => void>();
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly connectionString: string,
  ) {}

  /** The lowest checkpoint of all projections: every read model has applied up to here. */
  position(): Promise<bigint> {
    return checkpointsTable.lowest(this.pool, NAMES);
  }

  /** Resolves once the projections reached `minPosition`; 503 `projection_behind` after `waitMs`. */
  async waitFor(minPosition: bigint | undefined, waitMs = WAIT_MS_DEFAULT): Promise<void> {
    if (minPosition === undefined || (await this.position()) >= minPosition) return;
    await this.listen();
    const deadline = Date.now() + waitMs;
    for (;;) {
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) break;
      await this.wake(Math.min(remainingMs, RECHECK_MS));
      if ((await this.position()) >= minPosition) return;
    }
    throw new ApiError(
      503,
      'projection_behind',
      `the read models have not reached position ${minPosition} within ${waitMs} ms; retry`,
      { minPosition: Number(minPosition), position: Number(await this.position()) },
      { 'retry-after': '1' },
    );
  }

  private wake(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  private listen(): Promise<void> {
    if (this.listener || this.closed) return Promise.resolve();
    this.connecting ??= (async () => {
      const client = new pg.Client({ connectionString: this.connectionString });
      const drop = () => {
        if (this.listener === client) this.listener = undefined;
      };
      client.on('error', drop);
      client.on('end', drop);
      client.on('notification', () => [...this.waiters].forEach((w) => w()));
      try {
        await client.connect();
        await client.query(`LISTEN ${PROJECTIONS_CHANNEL}`);
        this.listener = client;
      } catch {
        // Falls back to re-reading every RECHECK_MS.
        await client.end().catch(() => undefined);
      }
    })().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.connecting;
    await this.listener?.end().catch(() => undefined);
    this.listener = undefined;
  }
}
