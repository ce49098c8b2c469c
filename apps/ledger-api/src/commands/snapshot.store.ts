import type pg from 'pg';
import type { Logger } from 'pino';
import type { MigrationSet } from '@ledger/platform';

/** The API's own tables: state snapshots, the refusals idempotency must remember, unmatched webhooks. */
export const ledgerApiMigrations: MigrationSet = {
  component: 'ledger_api',
  migrations: [
    {
      version: 1,
      name: 'stream state snapshots',
      sql: `
CREATE SCHEMA IF NOT EXISTS ledger_api;
-- The folded state of a long stream as of a revision: a cache, never the truth.
-- Deleting any row is safe; the stream is folded again from the start.
CREATE TABLE ledger_api.snapshots (
  stream_name text PRIMARY KEY,
  fold_version integer NOT NULL,
  revision bigint NOT NULL,
  last_position bigint NOT NULL,
  last_event_at timestamptz NOT NULL,
  state jsonb NOT NULL,
  taken_at timestamptz NOT NULL DEFAULT now()
);`,
    },
    {
      version: 2,
      name: 'refused commands by idempotency key',
      sql: `
-- A refused command appends no event, yet its repeat must get the same answer:
-- the refusal is kept here, outside the event log, by caller and key.
CREATE TABLE ledger_api.refusals (
  caller text NOT NULL,
  idempotency_key text NOT NULL,
  request_hash text NOT NULL,
  status integer NOT NULL,
  body text NOT NULL,
  refused_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (caller, idempotency_key)
);`,
    },
    {
      version: 3,
      name: 'provider webhooks for unknown tasks',
      sql: `
-- A verified provider delivery whose task no project has (yet): kept, not lost, and
-- listed for an operator. One row per delivery (by its key, as idempotency keys it);
-- a delivery that later finds its project marks the task's rows matched.
CREATE TABLE ledger_api.unmatched_webhooks (
  id bigserial PRIMARY KEY,
  provider text NOT NULL,
  task_id text NOT NULL,
  delivery_key text NOT NULL,
  body text NOT NULL,
  deliveries integer NOT NULL DEFAULT 1,
  received_at timestamptz NOT NULL,
  last_received_at timestamptz NOT NULL,
  matched boolean NOT NULL DEFAULT false,
  matched_at timestamptz,
  UNIQUE (provider, delivery_key)
);
CREATE INDEX ON ledger_api.unmatched_webhooks (provider, task_id) WHERE NOT matched;
CREATE INDEX ON ledger_api.unmatched_webhooks (id DESC) WHERE NOT matched;`,
    },
  ],
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
