import pg from 'pg';
import { GroupRunner, migrate, type MemberResult } from '@ledger/platform';
import {
  clampLimit,
  type AppendResult,
  type EventStore,
  type ReadAllOptions,
  type ReadStreamOptions,
  type StoredEvent,
  type StreamAppend,
  type StreamRead,
  type SubscribeOptions,
  type Subscription,
} from '../event-store.port.js';
import { InvalidAppendError, StoreUnavailableError, VersionConflictError, type StreamConflict } from '../errors.js';
import { validateAppend } from '../append-validation.js';
import { eventStoreMigrations } from './event-store.migrations.js';
import { isUnavailable, pgErrorCode, translatePgError } from './postgres-errors.js';
import { AppendNotifications } from './append-notifications.js';
import { LogTail, PostgresSubscription, type GapProtection, type LogRead } from './postgres-subscription.js';

export interface PostgresEventStoreOptions {
  connectionString: string;
  /** Connections in the pool; appends and reads share it. */
  poolSize?: number;
  /**
   * Group commit: appends (and stream reads) made while earlier ones are still
   * running go together in one statement, up to `maxGroup`, with at most
   * `maxInFlight` groups at once. `false` sends every call on its own.
   */
  grouping?: { maxInFlight: number; maxGroup: number } | false;
  /** Called after each group of appends (a lone append is a group of one): committed together, or appended one by one. */
  onAppendGroup?: (size: number, outcome: 'together' | 'one-by-one') => void;
}

/**
 * Seams for tests only, given through `@ledger/event-store/testing`
 * (`connectPostgresForTesting`); `connect` passes none.
 */
export interface PostgresEventStoreTestHooks {
  /**
   * Runs inside the append's transaction after its events are written and
   * before COMMIT, so a test can hold a transaction open.
   */
  beforeCommit?: (streams: readonly StreamAppend[]) => Promise<void>;
  /** For the test that proves the gap protection matters. */
  gapProtection?: GapProtection;
  /** Called after every subscription poll with the horizon it saw. */
  onPoll?: (poll: { head: bigint; safeHead: bigint }) => void;
  /** Called after every read of the log for subscriptions: by the shared tail, or by one catching up. */
  onRead?: (read: LogRead) => void;
  /** The shared reader's wait between polls when nothing wakes it (default 1 s). */
  idleDelayMs?: number;
}

interface EventRow {
  position: string;
  stream_name: string;
  revision: string;
  event_id: string;
  event_type: string;
  data: Record<string, unknown>;
  metadata: Record<string, string>;
  created_at: Date;
}

interface AppendRow {
  stream_name: string;
  next_revision: string;
  /** The append's last position, the same on every row. */
  last_position: string;
  /** The position of this stream's last event of the append (migration 0006). */
  stream_position: string;
}

interface GroupRow {
  batch_index: number;
  stream_name: string | null;
  next_revision: string | null;
  last_position: string | null;
  stream_position: string | null;
  conflicts: { stream: string; expected: string; actual: string }[] | null;
}

/** An append validated and serialised once, whether it goes alone or in a group. */
interface PreparedAppend {
  streams: StreamAppend[];
  json: string;
}

// The statements that run on every command or poll are named: each connection
// parses and plans them once (node-postgres prepares a named statement per connection).
const EVENT_COLUMNS = 'position, stream_name, revision, event_id, event_type, data, metadata, created_at';
// A retry after a unique violation on event_id turns a lost race between two
// identical appends into a replay; one retry is enough, a second would be a bug.
const DUPLICATE_RETRIES_MAX = 1;
const DEADLOCK_RETRIES_MAX = 3;
const CONNECT_TIMEOUT_MS = 5_000;
const STATEMENT_TIMEOUT_MS = 15_000;
const DEFAULT_GROUPING = { maxInFlight: 2, maxGroup: 200 };

export class PostgresEventStore implements EventStore {
  /** Positions come from a sequence: one per event. */
  readonly positionUnit = 'events' as const;
  readonly pool: pg.Pool;
  private readonly notifications: AppendNotifications;
  private readonly subscriptions = new Set<PostgresSubscription>();
  /** The one reader of the log's new ranges that every subscription of this store shares. */
  private readonly tail: LogTail;
  private readonly appendGroups?: GroupRunner<PreparedAppend, AppendResult>;
  private readonly readGroups?: GroupRunner<readonly StreamRead[], StoredEvent[][]>;

  protected constructor(
    private readonly options: PostgresEventStoreOptions,
    private readonly hooks: PostgresEventStoreTestHooks = {},
  ) {
    // Bounded waits: a hung server or a pile-up on row locks becomes "unavailable" (503), not a hung request.
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      statement_timeout: STATEMENT_TIMEOUT_MS,
      // A server that stops answering (a half-open connection) must not hold a
      // group, and every command queued behind it, until TCP gives up.
      query_timeout: STATEMENT_TIMEOUT_MS + 5_000,
      keepAlive: true,
    });
    // An idle client that loses its connection emits here; without a listener it would crash the process.
    this.pool.on('error', () => undefined);
    this.notifications = new AppendNotifications(options.connectionString, this.pool);
    this.tail = new LogTail(this, this.notifications, {
      gapProtection: hooks.gapProtection ?? 'snapshot-horizon',
      ...(hooks.onPoll ? { onPoll: hooks.onPoll } : {}),
      ...(hooks.onRead ? { onRead: hooks.onRead } : {}),
      ...(hooks.idleDelayMs !== undefined ? { idleDelayMs: hooks.idleDelayMs } : {}),
    });
    const grouping = options.grouping ?? DEFAULT_GROUPING;
    // A test holding an append's transaction open needs each append on its own.
    if (grouping && !hooks.beforeCommit) {
      this.appendGroups = new GroupRunner((group) => this.appendGroup(group), grouping);
      this.readGroups = new GroupRunner((group) => this.readStreamsGroup(group), grouping);
    }
  }

  /** Connects and applies the schema migrations. */
  static connect(options: PostgresEventStoreOptions): Promise<PostgresEventStore> {
    return PostgresEventStore.migrated(new PostgresEventStore(options));
  }

  protected static async migrated(store: PostgresEventStore): Promise<PostgresEventStore> {
    try {
      await migrate(store.pool, eventStoreMigrations);
    } catch (error) {
      await store.pool.end();
      translatePgError(error, 'migrate');
    }
    return store;
  }

  async append(streams: StreamAppend[]): Promise<AppendResult> {
    validateAppend(streams);
    const prepared: PreparedAppend = {
      streams,
      json: JSON.stringify(
        streams.map((s) => ({
          stream: s.streamName,
          expected: typeof s.expectedRevision === 'bigint' ? s.expectedRevision.toString() : s.expectedRevision,
          events: s.events.map((e) => ({ id: e.id, type: e.type, data: e.data, metadata: e.metadata ?? {} })),
        })),
      ),
    };
    return this.appendGroups ? this.appendGroups.submit(prepared) : this.appendAlone(prepared);
  }

  /** One append, one statement: what a group of one is, and the way back when a group fails. */
  private async appendAlone(prepared: PreparedAppend): Promise<AppendResult> {
    let duplicates = 0;
    let deadlocks = 0;
    for (let attempt = 0; ; attempt++) {
      try {
        const rows = await this.runAppend(prepared.json, prepared.streams, attempt > 0);
        this.notifications.publish();
        return toAppendResult(rows);
      } catch (error) {
        if (pgErrorCode(error) === 'LE409') throw new VersionConflictError(parseConflicts(error));
        // Class 22 (data exception): text or JSON the server can't store, e.g. U+0000.
        if (pgErrorCode(error)?.startsWith('22')) {
          throw new InvalidAppendError(`the server refused the events' data: ${(error as Error).message}`);
        }
        // A group locks its existing streams before inserting new ones, a lone append goes in
        // name order: the two can deadlock, and then the lone one is tried again (a replay
        // check first, so an append that got through is answered, never written twice).
        if (pgErrorCode(error) === '40P01' && deadlocks++ < DEADLOCK_RETRIES_MAX) continue;
        if (isDuplicateEventId(error)) {
          if (duplicates++ < DUPLICATE_RETRIES_MAX) continue;
          throw new InvalidAppendError('some event ids of this append are already stored, in another append');
        }
        translatePgError(error, 'append');
      }
    }
  }

  /**
   * Group commit: every batch in one call of event_store.append_group, one
   * commit. A conflict is its batch's alone. Anything else that stops the
   * statement (data the server refuses, a duplicate event id, a stream created
   * meanwhile by another transaction) rolls the group back, and each batch is
   * then appended alone, to get its own answer.
   */
  private async appendGroup(group: PreparedAppend[]): Promise<MemberResult<AppendResult>[]> {
    if (group.length === 1) {
      const result = await settle(this.appendAlone(group[0]!));
      this.reportGroup(1, 'together');
      return [result];
    }
    // The same event twice in one group (a replay racing its original) is answered
    // right only one append at a time: the group's replay check can't see its own inserts.
    if (hasRepeatedEventIds(group)) return this.oneByOne(group);
    let rows: GroupRow[];
    try {
      rows = (
        await this.pool.query<GroupRow>({
          name: 'event_store.append_group',
          text: 'SELECT batch_index, stream_name, next_revision, last_position, stream_position, conflicts FROM event_store.append_group($1::jsonb)',
          values: [`[${group.map((p) => p.json).join(',')}]`],
        })
      ).rows;
    } catch (error) {
      if (isUnavailable(error)) translatePgError(error, 'append');
      return this.oneByOne(group);
    }
    this.notifications.publish();
    this.reportGroup(group.length, 'together');
    const byBatch = group.map((): GroupRow[] => []);
    for (const row of rows) byBatch[row.batch_index - 1]!.push(row);
    // Each member mapped on its own: the group is committed, one member's odd rows must not fail the others.
    return byBatch.map((batchRows): MemberResult<AppendResult> => {
      try {
        const conflicts = batchRows[0]?.conflicts;
        if (conflicts) {
          return {
            ok: false,
            error: new VersionConflictError(
              conflicts.map((c) => ({ streamName: c.stream, expected: c.expected, actual: BigInt(c.actual) })),
            ),
          };
        }
        return { ok: true, value: toAppendResult(batchRows as AppendRow[]) };
      } catch (error) {
        return { ok: false, error };
      }
    });
  }

  private oneByOne(group: PreparedAppend[]): Promise<MemberResult<AppendResult>[]> {
    this.reportGroup(group.length, 'one-by-one');
    return Promise.all(group.map((prepared) => settle(this.appendAlone(prepared))));
  }

  private reportGroup(size: number, outcome: 'together' | 'one-by-one'): void {
    try {
      this.options.onAppendGroup?.(size, outcome);
    } catch {
      // A metrics callback must never fail appends that are committed.
    }
  }

  private async runAppend(batch: string, streams: readonly StreamAppend[], checkReplay: boolean): Promise<AppendRow[]> {
    const sql =
      'SELECT stream_name, next_revision, last_position, stream_position FROM event_store.append($1::jsonb, $2)';
    const beforeCommit = this.hooks.beforeCommit;
    if (!beforeCommit) {
      return (await this.pool.query<AppendRow>({ name: 'event_store.append', text: sql, values: [batch, checkReplay] }))
        .rows;
    }
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<AppendRow>(sql, [batch, checkReplay]);
      await beforeCommit(streams);
      await client.query('COMMIT');
      return rows;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async readStream(streamName: string, options: ReadStreamOptions = {}): Promise<StoredEvent[]> {
    const limit = clampLimit(options.limit);
    const backwards = options.direction === 'backwards';
    const from = options.fromRevision ?? (backwards ? BigInt(Number.MAX_SAFE_INTEGER) : 0n);
    const sql = backwards
      ? `SELECT ${EVENT_COLUMNS} FROM event_store.events WHERE stream_name = $1 AND revision <= $2 ORDER BY revision DESC LIMIT $3`
      : `SELECT ${EVENT_COLUMNS} FROM event_store.events WHERE stream_name = $1 AND revision >= $2 ORDER BY revision LIMIT $3`;
    try {
      const { rows } = await this.pool.query<EventRow>({
        name: backwards ? 'event_store.read_backwards' : 'event_store.read_forwards',
        text: sql,
        values: [streamName, from.toString(), limit],
      });
      return rows.map(toStoredEvent);
    } catch (error) {
      translatePgError(error, 'readStream');
    }
  }

  async readStreams(reads: readonly StreamRead[]): Promise<StoredEvent[][]> {
    if (reads.length === 0) return [];
    return this.readGroups ? this.readGroups.submit(reads) : this.readStreamsOnce(reads);
  }

  /** The reads of concurrent readStreams calls, in one statement. */
  private async readStreamsGroup(group: (readonly StreamRead[])[]): Promise<MemberResult<StoredEvent[][]>[]> {
    if (group.length === 1) return [await settle(this.readStreamsOnce(group[0]!))];
    let pages: StoredEvent[][];
    try {
      pages = await this.readStreamsOnce(group.flat());
    } catch (error) {
      // One member's bad read must not fail the others: each goes alone then.
      if (error instanceof StoreUnavailableError) throw error;
      return Promise.all(group.map((reads) => settle(this.readStreamsOnce(reads))));
    }
    let next = 0;
    return group.map((reads) => {
      const value = pages.slice(next, next + reads.length);
      next += reads.length;
      return { ok: true, value };
    });
  }

  private async readStreamsOnce(reads: readonly StreamRead[]): Promise<StoredEvent[][]> {
    const columns = EVENT_COLUMNS.split(', ')
      .map((c) => `e.${c}`)
      .join(', ');
    try {
      const { rows } = await this.pool.query<EventRow & { i: string }>({
        name: 'event_store.read_streams',
        text: `SELECT r.i, ${columns}
         FROM unnest($1::text[], $2::bigint[], $3::int[]) WITH ORDINALITY AS r(stream, from_revision, lim, i)
         CROSS JOIN LATERAL (
           SELECT * FROM event_store.events x
           WHERE x.stream_name = r.stream AND x.revision >= r.from_revision
           ORDER BY x.revision LIMIT r.lim
         ) e
         ORDER BY r.i, e.revision`,
        values: [
          reads.map((r) => r.streamName),
          reads.map((r) => (r.fromRevision ?? 0n).toString()),
          reads.map((r) => clampLimit(r.limit)),
        ],
      });
      const result: StoredEvent[][] = reads.map(() => []);
      for (const row of rows) result[Number(row.i) - 1]!.push(toStoredEvent(row));
      return result;
    } catch (error) {
      translatePgError(error, 'readStreams');
    }
  }

  async readAll(options: ReadAllOptions = {}): Promise<StoredEvent[]> {
    return this.readRange(options.afterPosition ?? 0n, undefined, clampLimit(options.limit));
  }

  /** Events in (after, upTo], in position order. */
  async readRange(after: bigint, upTo: bigint | undefined, limit: number): Promise<StoredEvent[]> {
    const bounded = upTo !== undefined;
    const sql = `SELECT ${EVENT_COLUMNS} FROM event_store.events WHERE position > $1 ${
      bounded ? 'AND position <= $3' : ''
    } ORDER BY position LIMIT $2`;
    const params = bounded ? [after.toString(), limit, upTo.toString()] : [after.toString(), limit];
    try {
      const { rows } = await this.pool.query<EventRow>({
        name: bounded ? 'event_store.read_range' : 'event_store.read_all',
        text: sql,
        values: params,
      });
      return rows.map(toStoredEvent);
    } catch (error) {
      translatePgError(error, 'readAll');
    }
  }

  async headPosition(): Promise<bigint> {
    try {
      const { rows } = await this.pool.query<{ head: string }>(
        'SELECT coalesce(max(position), 0) AS head FROM event_store.events',
      );
      return BigInt(rows[0]!.head);
    } catch (error) {
      translatePgError(error, 'headPosition');
    }
  }

  /**
   * A follower of the log. However many are open, the store reads each new range of the log
   * once (see `LogTail`) and each takes its share; one behind reads its catch-up itself.
   */
  subscribeToAll(options: SubscribeOptions = {}): Subscription {
    const subscription = new PostgresSubscription(this.tail, options.afterPosition ?? 0n, () =>
      this.subscriptions.delete(subscription),
    );
    this.subscriptions.add(subscription);
    return subscription;
  }

  async ping(): Promise<void> {
    try {
      await this.pool.query('SELECT 1');
    } catch (error) {
      translatePgError(error, 'ping');
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    this.tail.close();
    await this.notifications.close();
    await this.pool.end();
  }
}

function hasRepeatedEventIds(group: readonly PreparedAppend[]): boolean {
  const seen = new Set<string>();
  for (const prepared of group) {
    for (const stream of prepared.streams) {
      for (const event of stream.events) {
        if (seen.has(event.id)) return true;
        seen.add(event.id);
      }
    }
  }
  return false;
}

async function settle<T>(promise: Promise<T>): Promise<MemberResult<T>> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error };
  }
}

function toStoredEvent(row: EventRow): StoredEvent {
  return {
    id: row.event_id,
    type: row.event_type,
    data: row.data,
    metadata: row.metadata,
    streamName: row.stream_name,
    revision: BigInt(row.revision),
    position: BigInt(row.position),
    createdAt: row.created_at,
  };
}

function toAppendResult(rows: AppendRow[]): AppendResult {
  if (rows.length === 0) throw new Error('event_store.append returned no row');
  // Each row holds the append's last position and its stream's own.
  const streams = rows.map((r) => ({
    streamName: r.stream_name,
    nextRevision: BigInt(r.next_revision),
    lastPosition: BigInt(r.stream_position),
  }));
  return { position: BigInt(rows[0]!.last_position), streams };
}

function parseConflicts(error: unknown): StreamConflict[] {
  const detail = (error as { detail?: string }).detail ?? '[]';
  const parsed = JSON.parse(detail) as { stream: string; expected: string; actual: string }[];
  return parsed.map((c) => ({ streamName: c.stream, expected: c.expected, actual: BigInt(c.actual) }));
}

function isDuplicateEventId(error: unknown): boolean {
  return pgErrorCode(error) === '23505' && (error as { constraint?: string }).constraint === 'events_event_id_key';
}
