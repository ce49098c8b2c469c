/**
 * The event store port: everything the ledger needs from an append-only log.
 * Two adapters implement it (PostgreSQL, KurrentDB) and one contract suite
 * (`testing/event-store.contract.ts`) holds both to the same behaviour.
 */

/** What the caller expects of a stream before its events are appended. */
export type ExpectedRevision =
  | 'any'
  | 'no_stream'
  | 'stream_exists'
  /** The stream's last event has exactly this revision (0-based). */
  | bigint;

/** An event as the caller hands it to `append`. */
export interface EventToAppend {
  /** A UUID chosen by the caller, so a retried append can be recognised. */
  id: string;
  type: string;
  data: Record<string, unknown>;
  metadata?: Record<string, string>;
}

/** An event as the store keeps it. */
export interface StoredEvent {
  id: string;
  type: string;
  data: Record<string, unknown>;
  metadata: Record<string, string>;
  streamName: string;
  /** 0-based index of the event in its stream. */
  revision: bigint;
  /** Position in the global log; strictly increasing in the order events are delivered. */
  position: bigint;
  createdAt: Date;
}

export interface StreamAppend {
  streamName: string;
  expectedRevision: ExpectedRevision;
  events: EventToAppend[];
}

export interface StreamAppendResult {
  streamName: string;
  /** Revision of the stream's last event after the append. */
  nextRevision: bigint;
  /**
   * Global position of this stream's last event of the append, where the store tells
   * it (PostgreSQL does); otherwise the caller knows only the append's `position`.
   */
  lastPosition?: bigint;
}

export interface AppendResult {
  /** Global position of the last event written by the append. */
  position: bigint;
  streams: StreamAppendResult[];
}

export interface ReadStreamOptions {
  /** Inclusive. Forwards defaults to 0, backwards to the end. */
  fromRevision?: bigint;
  direction?: 'forwards' | 'backwards';
  /** Bounded: at most `READ_LIMIT_MAX`. */
  limit?: number;
}

/** One stream of a `readStreams` call, read forwards. */
export interface StreamRead {
  streamName: string;
  /** Inclusive; defaults to 0. */
  fromRevision?: bigint;
  /** Bounded: at most `READ_LIMIT_MAX`. */
  limit?: number;
}

export interface ReadAllOptions {
  /** Exclusive: events strictly after this position. Defaults to 0n, the start. */
  afterPosition?: bigint;
  /** Bounded: at most `READ_LIMIT_MAX`. */
  limit?: number;
}

export interface SubscribeOptions {
  /** Exclusive: the last position the subscriber has already processed. */
  afterPosition?: bigint;
}

/**
 * A live subscription to the global log. It is pulled (`for await`), so a slow
 * consumer slows the reads instead of filling memory: that is the backpressure.
 */
export interface Subscription extends AsyncIterable<StoredEvent> {
  close(): Promise<void>;
}

export const READ_LIMIT_MAX = 4096;
export const READ_LIMIT_DEFAULT = 500;

export interface EventStore {
  /**
   * What a difference of two positions counts: 'events' (PostgreSQL: a sequence) or 'bytes'
   * (KurrentDB: log offsets, so "positions behind" is not "events behind"). Absent: 'events'.
   */
  readonly positionUnit?: 'events' | 'bytes';
  /**
   * Appends to one or several streams atomically: every stream's expectation
   * holds and all events are written, or nothing is written anywhere. Events
   * take positions in the order given (streams in array order, then events),
   * so the last event of the last stream holds `AppendResult.position`.
   * Re-appending events whose ids are already stored in the same streams
   * returns the original result and writes nothing.
   * Throws `VersionConflictError` or `StoreUnavailableError`.
   */
  append(streams: StreamAppend[]): Promise<AppendResult>;
  /** Events of one stream; an empty list when the stream does not exist. */
  readStream(streamName: string, options?: ReadStreamOptions): Promise<StoredEvent[]>;
  /**
   * Several streams read forwards at once (one round trip where the store
   * allows): the events of each request, in request order.
   */
  readStreams(reads: readonly StreamRead[]): Promise<StoredEvent[][]>;
  /** Ledger events of the global log, in position order. */
  readAll(options?: ReadAllOptions): Promise<StoredEvent[]>;
  /** Position of the last ledger event, or 0n when the log is empty (positions start above 0). */
  headPosition(): Promise<bigint>;
  /** Catches up from `afterPosition`, then follows new events as they commit. */
  subscribeToAll(options?: SubscribeOptions): Subscription;
  /** Throws `StoreUnavailableError` when the store can't be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export const EVENT_STORE = Symbol('EVENT_STORE');

export function clampLimit(limit: number | undefined): number {
  if (limit === undefined) return READ_LIMIT_DEFAULT;
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  return Math.min(limit, READ_LIMIT_MAX);
}
