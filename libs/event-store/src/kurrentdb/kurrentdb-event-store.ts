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
import { StoreUnavailableError, VersionConflictError } from '../errors.js';
import { validateAppend } from '../append-validation.js';
import { isStreamNotFound, translateKurrentError } from './kurrentdb-errors.js';
import { toEventData, toStoredEvent, toStreamState, type ClientResolvedEvent } from './kurrentdb-mapping.js';

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
// Any non-system name does: reading a missing stream is the cheapest round trip there is.
const PING_STREAM = 'event-store-ping';

/**
 * The EventStore port over KurrentDB 25.1+ (multi-stream append needs 25.1). Positions are
 * commit positions in $all: every event of an append has its own (the server writes them as
 * self-committed records), so they strictly increase in delivery order, as the port asks.
 */
export class KurrentDbEventStore implements EventStore {
  private readonly subscriptions = new Set<KurrentDbSubscription>();

  private constructor(
    private readonly client: KurrentDBClient,
    private readonly streamPrefixes: readonly string[],
  ) {}

  /** Creates the client and checks the server answers, like PostgresEventStore.connect. */
  static async connect(options: KurrentDbEventStoreOptions): Promise<KurrentDbEventStore> {
    const prefixes = options.streamPrefixes;
    // No prefix, or an empty one, would not delimit the ledger's streams; a '$' one would take in the server's own.
    if (prefixes.length === 0 || prefixes.some((p) => p.length === 0 || p.startsWith('$'))) {
      throw new RangeError(`streamPrefixes must be non-empty and not start with '$', got ${JSON.stringify(prefixes)}`);
    }
    const store = new KurrentDbEventStore(KurrentDBClient.connectionString(options.connectionString), [...prefixes]);
    try {
      await store.ping();
    } catch (error) {
      await store.client.dispose();
      throw error;
    }
    return store;
  }

  async append(streams: StreamAppend[]): Promise<AppendResult> {
    validateAppend(streams);
    try {
      return streams.length === 1 ? await this.appendToOne(streams[0]!) : await this.appendToMany(streams);
    } catch (error) {
      translateKurrentError(error, 'append');
    }
  }

  // Idempotency is the server's: when every event id is already at the expected place, it writes
  // nothing and answers with the original last revision and last event's position, so a replay
  // returns the original result. It is guaranteed for 'no_stream' and exact revisions; for 'any'
  // and 'stream_exists' the server only checks a cache of recent event ids (best effort).
  private async appendToOne(stream: StreamAppend): Promise<AppendResult> {
    const result = await this.client.appendToStream(stream.streamName, stream.events.map(toEventData), {
      streamState: toStreamState(stream.expectedRevision),
    });
    if (!result.success) {
      // Only when the connection string sets throwOnAppendFailure=false. The actual revision stays
      // unknown: the client's batch path fills nextExpectedRevision with BigInt(<a boolean>) here.
      throw new VersionConflictError([{ streamName: stream.streamName, expected: String(stream.expectedRevision) }]);
    }
    const streams = [{ streamName: stream.streamName, nextRevision: result.nextExpectedRevision }];
    // A replay the server has not fully indexed yet comes back without a position.
    return { position: result.position?.commit ?? (await this.positionOfLastEvents(streams)), streams };
  }

  // multiStreamAppend is atomic: all streams are written or none. Its metadata must be a map of
  // strings, which EventToAppend.metadata already is. Streams come back in the order asked for.
  private async appendToMany(streams: StreamAppend[]): Promise<AppendResult> {
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
    const after = options.afterPosition ?? 0n;
    const source = this.client.subscribeToAll({ fromPosition: startAfter(after), filter: this.filter() });
    const subscription = new KurrentDbSubscription(source, after, () => this.subscriptions.delete(subscription));
    this.subscriptions.add(subscription);
    return subscription;
  }

  async ping(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StoreUnavailableError(`event store did not answer a ping within ${PING_TIMEOUT_MS} ms`)),
        PING_TIMEOUT_MS,
      );
    });
    try {
      await Promise.race([collect(this.client.readStream(PING_STREAM, { maxCount: 1 })), timeout]);
    } catch (error) {
      if (isStreamNotFound(error)) return;
      translateKurrentError(error, 'ping');
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    await this.client.dispose();
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
    try {
      for await (const resolved of this.source) {
        if (this.closed) return;
        const event = toStoredEvent(resolved);
        // The start position may be delivered again; skipping it keeps "strictly after" and "once".
        if (!event || event.position <= last) continue;
        last = event.position;
        yield event;
      }
    } catch (error) {
      // close() destroys the source, which ends a pending read with a premature-close error.
      if (!this.closed) translateKurrentError(error, 'subscribeToAll');
    } finally {
      await this.close();
    }
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
