import type pg from 'pg';
import type { Logger } from 'pino';
import type { MigrationSet } from '@ledger/platform';

/**
 * The API's own tables (state snapshots, the refusals idempotency must remember,
 * unmatched webhooks): the files of ../migrations.
 */
export const ledgerApiMigrations: MigrationSet = {
  component: 'ledger_api',
  folder: new URL('../migrations/', import.meta.url),
  recordedBeforeChecksums: {
    1: 'stream state snapshots',
    2: 'refused commands by idempotency key',
    3: 'provider webhooks for unknown tasks',
  },
};

interface SnapshotRow {
  revision: string;
  last_position: string;
  last_event_at: Date;
  state: unknown;
}

export interface SnapshotContent<S> {
  state: S;
  revision: bigint | undefined;
  lastPosition: bigint | undefined;
  lastEventAt: string | undefined;
}

/** Snapshots of folded stream states in PostgreSQL (present with either event store). */
export class SnapshotStore {
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly log: Pick<Logger, 'warn'>,
  ) {}

  async load<T extends SnapshotContent<unknown>>(streamName: string, foldVersion: number): Promise<T | undefined> {
    const { rows } = await this.pool.query<SnapshotRow>(
      'SELECT revision, last_position, last_event_at, state FROM ledger_api.snapshots WHERE stream_name = $1 AND fold_version = $2',
      [streamName, foldVersion],
    );
    const row = rows[0];
    if (!row) return undefined;
    return {
      state: row.state,
      revision: BigInt(row.revision),
      lastPosition: BigInt(row.last_position),
      lastEventAt: row.last_event_at.toISOString(),
    } as T;
  }

  /** Fire and forget: a lost snapshot only makes a later cold load read more events. */
  save(streamName: string, foldVersion: number, content: SnapshotContent<unknown>): void {
    if (content.revision === undefined || content.lastPosition === undefined || content.lastEventAt === undefined)
      return;
    const saving = this.pool
      .query(
        `INSERT INTO ledger_api.snapshots (stream_name, fold_version, revision, last_position, last_event_at, state)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (stream_name) DO UPDATE SET fold_version = excluded.fold_version, revision = excluded.revision,
           last_position = excluded.last_position, last_event_at = excluded.last_event_at, state = excluded.state,
           taken_at = now()
         WHERE ledger_api.snapshots.revision < excluded.revision OR ledger_api.snapshots.fold_version <> excluded.fold_version`,
        [
          streamName,
          foldVersion,
          content.revision.toString(),
          content.lastPosition.toString(),
          content.lastEventAt,
          JSON.stringify(content.state),
        ],
      )
      .then(
        () => undefined,
        (error: unknown) => this.log.warn({ err: error, streamName }, 'snapshot not saved'),
      )
      .finally(() => this.inFlight.delete(saving));
    this.inFlight.add(saving);
  }

  /** Waits for the snapshots being written (at shutdown, and in tests). */
  async drain(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }
}
