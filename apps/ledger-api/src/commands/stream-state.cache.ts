import { LRUCache } from 'lru-cache';
import type { EventStore, StoredEvent } from '@ledger/event-store';
import { STATE_CACHE_MB_DEFAULT } from '../config/ledger-config.js';
import type { SnapshotStore } from './snapshot.store.js';

/** How one kind of stream folds into a state. `version` changes when `evolve` does, voiding old snapshots. */
export interface StreamFold<S> {
  kind: string;
  version: number;
  initial(): S;
  /** `id`: the stored event's, which an account's fold needs for grants written before lots. */
  evolve(state: S, event: { type: string; data: Record<string, unknown>; id?: string }): S;
  /** About how many bytes the state takes, for the cache's bound; absent: its JSON's length. */
  sizeOf?(state: S): number;
}

/** A stream's state as of `revision` (undefined: the stream does not exist). */
export interface LoadedState<S> {
  state: S;
  revision: bigint | undefined;
  lastPosition: bigint | undefined;
  lastEventAt: string | undefined;
}

const READ_PAGE = 1000;
const CACHED_STREAMS_MAX = 100_000;
// A snapshot every this many events bounds a cold load to one snapshot read plus
// at most this many events, however long the stream grows.
export const SNAPSHOT_EVERY_EVENTS = 100;

function nextRevision(entry: { revision: bigint | undefined }): bigint {
  return entry.revision === undefined ? 0n : entry.revision + 1n;
}

type Entry<S> = LoadedState<S> & { snapshotRevision: bigint | undefined };

function emptyEntry<S>(state: S): Entry<S> {
  return { state, revision: undefined, lastPosition: undefined, lastEventAt: undefined, snapshotRevision: undefined };
}

/**
 * What a cached stream takes besides its state, and how a state's JSON length scales to the
 * heap it takes (measured with Node 20, 30,000 streams each: a project started took 956
 * bytes, JSON 246 characters; one completed with an asset 1,139 bytes, JSON 411; an account
 * with one lot 1,256 bytes). The entry with its revisions and time, the LRU's slot and its
 * map entry, and the name (counted twice: in UTF-16 at worst) come to about this much; a
 * state of small objects and short strings takes about twice its JSON length. The sum
 * errs on the large side (by 8 % and 20 % for those projects), so the bound holds.
 */
const ENTRY_BYTES = 448;
const JSON_TO_HEAP = 2;

/**
 * The memory every StreamStateCache of a process draws on: one LRU over the states of every
 * kind of stream (a stream's name says its kind, so names never collide), bounded by a count
 * and by an estimate of the bytes its entries take on the heap. One bound for all the kinds,
 * so adding a kind of stream adds nothing to what the caches may hold together.
 */
export class StateCacheMemory {
  readonly entries: LRUCache<string, Entry<unknown>>;

  constructor(bytesMax = STATE_CACHE_MB_DEFAULT * 1024 * 1024, streamsMax = CACHED_STREAMS_MAX) {
    this.entries = new LRUCache({ max: streamsMax, maxSize: bytesMax });
  }

  /** The estimated bytes of the states held now. */
  get bytes(): number {
    return this.entries.calculatedSize;
  }
}

/**
 * Keeps decisions O(new events): the state of recently used streams stays in
 * memory with its revision, and a load only reads what was appended since
 * (by another replica, or by this one). A stream not in memory starts from its
 * latest snapshot. Both are only ever built from committed events.
 */
export class StreamStateCache<S> {
  private readonly cache: LRUCache<string, Entry<S>>;

  /** `memory`: shared by the caches of every kind (CommandsModule); a cache of its own by default. */
  constructor(
    private readonly store: EventStore,
    private readonly fold: StreamFold<S>,
    private readonly snapshots: SnapshotStore,
    memory: StateCacheMemory = new StateCacheMemory(),
  ) {
    this.cache = memory.entries as LRUCache<string, Entry<S>>;
  }

  /**
   * What a load of this stream would read first: the tail after the revision in
   * memory, or, for a stream not in memory, its first events (a stream shorter
   * than a snapshot's interval has no snapshot, so that page is all of it). A
   * caller reads it together with other streams (one round trip) and hands it to `load`.
   */
  tailOf(streamName: string): { streamName: string; fromRevision: bigint; limit: number } {
    const entry = this.cache.get(streamName);
    return entry
      ? { streamName, fromRevision: nextRevision(entry), limit: READ_PAGE }
      : { streamName, fromRevision: 0n, limit: SNAPSHOT_EVERY_EVENTS };
  }

  /** `prefetched`: what `tailOf` named, read by the caller; used if it still starts where this load would. */
  async load(
    streamName: string,
    prefetched?: { fromRevision: bigint; limit: number; events: StoredEvent[] },
  ): Promise<LoadedState<S>> {
    let entry = this.cache.get(streamName);
    let ready: StoredEvent[] | undefined;
    if (entry) {
      ready = prefetched?.fromRevision === nextRevision(entry) ? prefetched.events : undefined;
    } else if (prefetched?.fromRevision === 0n && prefetched.events.length < prefetched.limit) {
      // The whole of a short stream: folded from the start, no snapshot to look for.
      entry = emptyEntry(this.fold.initial());
      ready = prefetched.events;
    } else {
      entry = await this.fromSnapshot(streamName);
    }
    for (;;) {
      const from = nextRevision(entry);
      // A page shorter than its limit is the end of the stream (as of its read); a full one may not be.
      const limit = ready ? prefetched!.limit : READ_PAGE;
      const events = ready ?? (await this.store.readStream(streamName, { fromRevision: from, limit }));
      ready = undefined;
      if (events.length > 0) entry = { ...this.apply(entry, events), snapshotRevision: entry.snapshotRevision };
      if (events.length < limit) break;
    }
    this.keep(streamName, entry);
    return entry;
  }

  /**
   * After an append this process made, expecting the revision its decision saw: the
   * state decided on, moved on by the events appended, is exactly the stream's state
   * at `next.revision`, so it is kept without reading the events back. A state in
   * memory that is already further on stays.
   */
  advance(streamName: string, next: LoadedState<S>): void {
    const entry = this.cache.peek(streamName);
    if (entry?.revision !== undefined && next.revision !== undefined && entry.revision >= next.revision) return;
    this.keep(streamName, { ...next, snapshotRevision: entry?.snapshotRevision });
  }

  private keep(streamName: string, entry: Entry<S>): void {
    // Bounded by an estimate of the heap it takes: a project's state carries its assets' URLs.
    const stateBytes = this.fold.sizeOf
      ? this.fold.sizeOf(entry.state)
      : JSON.stringify(entry.state).length * JSON_TO_HEAP;
    this.cache.set(streamName, entry, { size: ENTRY_BYTES + 2 * streamName.length + stateBytes });
    if (entry.revision !== undefined && entry.revision - (entry.snapshotRevision ?? -1n) >= SNAPSHOT_EVERY_EVENTS) {
      entry.snapshotRevision = entry.revision;
      this.snapshots.save(streamName, this.fold.version, entry);
    }
  }

  /**
   * `state` after `events`, folded as a load would fold them once stored: a decision's events
   * checked before they are appended (the fold throws on an event that breaks an invariant).
   */
  evolve(state: S, events: readonly { type: string; data: Record<string, unknown>; id?: string }[]): S {
    for (const event of events) state = this.fold.evolve(state, event);
    return state;
  }

  /** The state in memory, if any, as of its last load (not refreshed, not marked as used). */
  peek(streamName: string): S | undefined {
    return this.cache.peek(streamName)?.state;
  }

  /** After a conflict the cached revision is behind; the next load catches up from the store anyway. */
  forget(streamName: string): void {
    this.cache.delete(streamName);
  }

  private async fromSnapshot(streamName: string): Promise<Entry<S>> {
    const snapshot = await this.snapshots.load<LoadedState<S>>(streamName, this.fold.version);
    if (snapshot) return { ...snapshot, snapshotRevision: snapshot.revision };
    return emptyEntry(this.fold.initial());
  }

  private apply(entry: LoadedState<S>, events: readonly StoredEvent[]): LoadedState<S> {
    let state = entry.state;
    for (const event of events) state = this.fold.evolve(state, event);
    const last = events[events.length - 1]!;
    return {
      state,
      revision: last.revision,
      lastPosition: last.position,
      lastEventAt: last.createdAt.toISOString(),
    };
  }
}
