import {
  BACKWARDS,
  END,
  FORWARDS,
  KurrentDBClient,
  START,
  streamNameFilter,
  type AllStreamSubscription,
  type ReadPosition,
} from '@kurrent/kurrentdb-client';
import {
  clampLimit,
  type AppendResult,
  type EventStore,
  type ReadAllOptions,
  type ReadStreamOptions,
  type StoredEvent,
  type StreamAppend,
  type StreamRead,
  type StreamAppendResult,
  type SubscribeOptions,
  type Subscription,
} from '../event-store.port.js';
import { StoreUnavailableError, VersionConflictError, type StreamConflict } from '../errors.js';
import { validateAppend } from '../append-validation.js';
import { GRPC_INTERNAL, grpcCode, isStreamNotFound, translateKurrentError } from './kurrentdb-errors.js';
import { toEventData, toStoredEvent, toStreamState, type ClientResolvedEvent } from './kurrentdb-mapping.js';
import { checkServerFeatures, fetchServerFeatures } from './kurrentdb-server.js';
import { notLeaderDetails } from './kurrentdb-status.js';
import { validateForKurrentDb } from './kurrentdb-validation.js';

export interface KurrentDbEventStoreOptions {
  connectionString: string;
  /**
   * Name prefixes of the ledger's streams. $all holds every stream of the server (system ones
   * too), so readAll, headPosition and subscriptions see only these, filtered server-side.
   */
  streamPrefixes: readonly string[];
}

// A health check must answer even when the client would keep retrying a dead connection.
const PING_TIMEOUT_MS = 5_000;

/**
 * The EventStore port over KurrentDB 25.1.4+ (see MIN_SERVER_VERSION). Positions are log
 * positions in $all (byte offsets, not event counts): every event of an append has its own (the
 * server writes them as self-committed records), so they strictly increase in delivery order,
 * as the port asks, but the distance between two is not a number of events.
 *
 * The client has two halves: appends and subscriptions go through grpc-js, reads through its
 * Rust bridge. connect() and ping() check both, and that the server can serve the ledger.
 */
export class KurrentDbEventStore implements EventStore {
  readonly positionUnit = 'bytes' as const;
  private readonly subscriptions = new Set<KurrentDbSubscription>();
  private closed = false;
  // Clients replaced by a reconnection: their subscriptions run on until closed.
  private readonly retired: KurrentDBClient[] = [];

  private constructor(
    private client: KurrentDBClient,
    private readonly connectionString: string,
    private readonly streamPrefixes: readonly string[],
  ) {}

  /** Creates the client and checks the server answers and can serve the ledger. */
  static async connect(options: KurrentDbEventStoreOptions): Promise<KurrentDbEventStore> {
    const prefixes = options.streamPrefixes;
    // No prefix, or an empty one, would not delimit the ledger's streams; a '$' one would take in the server's own.
    if (prefixes.length === 0 || prefixes.some((p) => p.length === 0 || p.startsWith('$'))) {
      throw new RangeError(`streamPrefixes must be non-empty and not start with '$', got ${JSON.stringify(prefixes)}`);
    }
    const client = KurrentDBClient.connectionString(options.connectionString);
    const store = new KurrentDbEventStore(client, options.connectionString, [...prefixes]);
    try {
      await store.ping();
    } catch (error) {
      await store.client.dispose();
      throw error;
    }
    return store;
  }

  /**
   * Every append is one v2 append session (multiStreamAppend), one stream or several: atomic,
   * streams and events positioned in the order given (the server writes them in request order;
   * the client docs do not promise it, the contract suite checks it).
   *
   * Idempotency is the server's: when every event id is already at the expected place, it writes
   * nothing and answers with the original last revisions and position, so a replay returns the
   * original result. It is guaranteed for 'no_stream' and exact revisions; for 'any' and
   * 'stream_exists' the server only checks a cache of recent event ids (best effort).
   */
  async append(streams: StreamAppend[]): Promise<AppendResult> {
    this.ensureOpen();
    validateAppend(streams);
    validateForKurrentDb(streams);
    try {
      return await this.appendSession(streams);
    } catch (error) {
      const { isNotLeader, leader } = notLeaderDetails(error);
      if (isNotLeader) this.reconnect(leader);
      // 25.1 answers a multi-stream append whose streams are partly replayed (some events already
      // written by an earlier attempt, others not) with INTERNAL; the port promises a conflict.
      if (grpcCode(error) === GRPC_INTERNAL) {
        const conflicts = await this.replayedParts(streams).catch(() => []);
        if (conflicts.length > 0) throw new VersionConflictError(conflicts);
      }
      translateKurrentError(error, 'append');
    }
  }

  /**
   * Leaves the current client to what runs on it and opens a new one: to the leader a follower
   * named (single-host connection strings), or through discovery again (cluster ones).
   */
  private reconnect(leader: { host: string; port: number } | undefined): void {
    this.retired.push(this.client);
    this.client = KurrentDBClient.connectionString(
      leader ? withLeader(this.connectionString, leader) : this.connectionString,
    );
  }

  /**
   * The streams of an append that already hold some of its events, as conflicts: where an
   * earlier attempt would have put them (after the expected revision), or, for 'any' and
   * 'stream_exists', among the stream's latest events.
   */
  private async replayedParts(streams: readonly StreamAppend[]): Promise<StreamConflict[]> {
    const conflicts: StreamConflict[] = [];
    for (const stream of streams) {
      const ids = new Set(stream.events.map((e) => e.id.toLowerCase()));
      const window = stream.events.length + 1024;
      const expected = stream.expectedRevision;
      const stored =
        expected === 'no_stream' || typeof expected === 'bigint'
          ? await this.readStream(stream.streamName, {
              fromRevision: expected === 'no_stream' ? 0n : expected + 1n,
              limit: window,
            })
          : await this.readStream(stream.streamName, { direction: 'backwards', limit: window });
      if (!stored.some((e) => ids.has(e.id.toLowerCase()))) continue;
      const [last] = await this.readStream(stream.streamName, { direction: 'backwards', limit: 1 });
      conflicts.push({ streamName: stream.streamName, expected: String(expected), actual: last?.revision ?? -1n });
    }
    return conflicts;
  }

  // multiStreamAppend is atomic: all streams are written or none. Its metadata must be a map of
  // strings, which EventToAppend.metadata already is. Streams come back in the order asked for.
  private async appendSession(streams: StreamAppend[]): Promise<AppendResult> {
    const result = await this.client.multiStreamAppend(
      streams.map((s) => ({
        streamName: s.streamName,
        expectedState: toStreamState(s.expectedRevision),
        events: s.events.map(toEventData),
      })),
    );
    const revisions = new Map(result.responses.map((r) => [r.streamName, r.revision]));
    const appended = streams.map((s) => {
      const nextRevision = revisions.get(s.streamName);
      if (nextRevision === undefined) throw new Error(`multiStreamAppend returned no revision for ${s.streamName}`);
      return { streamName: s.streamName, nextRevision };
    });
    // The server answers -1 when it could not tell the position of an idempotent replay.
    const position = result.position >= 0n ? result.position : await this.positionOfLastEvents(appended);
    return { position, streams: appended };
  }

  private async positionOfLastEvents(streams: readonly StreamAppendResult[]): Promise<bigint> {
    let position = 0n;
    for (const { streamName, nextRevision } of streams) {
      const [last] = await this.readStream(streamName, { fromRevision: nextRevision, limit: 1 });
      if (!last) throw new Error(`event ${nextRevision} of ${streamName} is not readable after the append`);
      if (last.position > position) position = last.position;
    }
    return position;
  }

  // The client has no batched read: one call per stream, concurrently.
  readStreams(reads: readonly StreamRead[]): Promise<StoredEvent[][]> {
    return Promise.all(
      reads.map((r) =>
        this.readStream(r.streamName, {
          ...(r.fromRevision === undefined ? {} : { fromRevision: r.fromRevision }),
          ...(r.limit === undefined ? {} : { limit: r.limit }),
        }),
      ),
    );
  }

  async readStream(streamName: string, options: ReadStreamOptions = {}): Promise<StoredEvent[]> {
    this.ensureOpen();
    const maxCount = clampLimit(options.limit);
    const backwards = options.direction === 'backwards';
    try {
      return await collect(
        this.client.readStream(streamName, {
          direction: backwards ? BACKWARDS : FORWARDS,
          fromRevision: options.fromRevision ?? (backwards ? END : START),
          maxCount,
        }),
      );
    } catch (error) {
      if (isStreamNotFound(error)) return [];
      translateKurrentError(error, 'readStream');
    }
  }

  async readAll(options: ReadAllOptions = {}): Promise<StoredEvent[]> {
    this.ensureOpen();
    const after = options.afterPosition ?? 0n;
    const limit = clampLimit(options.limit);
    try {
      const events = await collect(
        this.client.readAll({
          direction: FORWARDS,
          fromPosition: startAfter(after),
          // The server's start position is inclusive: one more covers the event at `after`, dropped below.
          maxCount: limit + 1,
          filter: this.filter(),
        }),
      );
      return events.filter((e) => e.position > after).slice(0, limit);
    } catch (error) {
      translateKurrentError(error, 'readAll');
    }
  }

  async headPosition(): Promise<bigint> {
    this.ensureOpen();
    try {
      const [last] = await collect(
        this.client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1, filter: this.filter() }),
      );
      return last?.position ?? 0n;
    } catch (error) {
      translateKurrentError(error, 'headPosition');
    }
  }

  subscribeToAll(options: SubscribeOptions = {}): Subscription {
    if (this.closed) return closedSubscription();
    const after = options.afterPosition ?? 0n;
    const source = this.client.subscribeToAll({ fromPosition: startAfter(after), filter: this.filter() });
    const subscription = new KurrentDbSubscription(source, after, () => this.subscriptions.delete(subscription));
    this.subscriptions.add(subscription);
    return subscription;
  }

  /**
   * Both halves of the client and what the ledger needs of the server: a read of $all through
   * the Rust bridge (a secured cluster refuses it to a user without the right: the ledger's
   * projections and audit read $all), and the server's features through grpc-js (version, v2
   * append session). Throws StoreUnavailableError when it cannot tell, IncompatibleStoreError
   * when the server answers but cannot serve the ledger.
   */
  async ping(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StoreUnavailableError(`event store did not answer a ping within ${PING_TIMEOUT_MS} ms`)),
        PING_TIMEOUT_MS,
      );
    });
    const bridge = this.headPosition();
    const grpcJs = (async () => {
      try {
        checkServerFeatures(await fetchServerFeatures(this.client));
      } catch (error) {
        if ((error as Error).name === 'IncompatibleStoreError') throw error;
        translateKurrentError(error, 'ping');
      }
    })();
    try {
      await Promise.race([Promise.all([bridge, grpcJs]), timeout]);
    } finally {
      clearTimeout(timer);
      // Whichever lost the race must not become an unhandled rejection.
      bridge.catch(() => undefined);
      grpcJs.catch(() => undefined);
    }
  }

  /** A disposed client still answers some calls: a closed store answers none, as PostgreSQL's does. */
  private ensureOpen(): void {
    if (this.closed) throw new StoreUnavailableError('the event store connection is closed');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    await Promise.all([this.client, ...this.retired].map((c) => c.dispose()));
  }

  private filter() {
    return streamNameFilter({ prefixes: [...this.streamPrefixes] });
  }
}

/**
 * The client's subscription is a Readable: iterating it pulls events and pauses the gRPC
 * stream when the consumer is slow, so backpressure comes for free; this only maps events.
 */
export class KurrentDbSubscription implements Subscription {
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly source: AllStreamSubscription,
    private readonly afterPosition: bigint,
    private readonly onClose: () => void,
  ) {
    // The client emits failures as plain events: with no listener one would crash the process, and
    // one emitted before anyone iterates would never reach the iterator. Destroying with it does both.
    source.on('error', (error: Error) => {
      if (!source.destroyed) source.destroy(error);
    });
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<StoredEvent> {
    if (this.closed) return;
    let last = this.afterPosition;
    let endedByServer = false;
    try {
      for await (const resolved of this.source) {
        if (this.closed) return;
        const event = toStoredEvent(resolved);
        // The start position may be delivered again; skipping it keeps "strictly after" and "once".
        if (!event || event.position <= last) continue;
        last = event.position;
        yield event;
      }
      endedByServer = !this.closed;
    } catch (error) {
      // close() destroys the source, which ends a pending read with a premature-close error.
      if (!this.closed) translateKurrentError(error, 'subscribeToAll');
    } finally {
      await this.close();
    }
    // The server ends a live subscription only when it goes away (shutdown, leader change, a
    // subscription it dropped): the client then just ends the stream, as if nothing happened.
    if (endedByServer) throw new StoreUnavailableError('the event store ended the subscription');
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    this.onClose();
    // unsubscribe cancels the gRPC call; destroying also wakes an iterator waiting for the next event.
    await this.source.unsubscribe().catch(() => undefined);
    this.source.destroy();
  }
}

function closedSubscription(): Subscription {
  return {
    // eslint-disable-next-line require-yield
    async *[Symbol.asyncIterator]() {
      throw new StoreUnavailableError('the event store connection is closed');
    },
    close: async () => undefined,
  };
}

/** The connection string with its single host replaced by the leader's; others unchanged. */
export function withLeader(connectionString: string, leader: { host: string; port: number }): string {
  const match = /^(kurrentdb|esdb|eventstore):\/\/((?:[^@/]*@)?)([^/?,]+)((?:[/?].*)?)$/i.exec(connectionString);
  if (!match) return connectionString;
  return `${match[1]}://${match[2]}${leader.host}:${leader.port}${match[4]}`;
}

function startAfter(position: bigint): ReadPosition {
  // Every event's commit and prepare positions are equal (self-committed records), so this is exact.
  return position === 0n ? START : { commit: position, prepare: position };
}

async function collect(events: AsyncIterable<ClientResolvedEvent>): Promise<StoredEvent[]> {
  const stored: StoredEvent[] = [];
  for await (const resolved of events) {
    const event = toStoredEvent(resolved);
    if (event) stored.push(event);
  }
  return stored;
}
