import { LRUCache } from 'lru-cache';
import type { EventStore, StoredEvent } from '@ledger/event-store';
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
const CACHE_BYTES_MAX = 64 * 1024 * 1024;
// A snapshot every this many events bounds a cold load to one snapshot read plus
// at most this many events, however long the stream grows.
export const SNAPSHOT_EVERY_EVENTS = 100;

function nextRevision(entry: { revision: bigint | undefined }): bigint {
  return entry.revision === undefined ? 0n : entry.revision + 1n;
}

function emptyEntry<S>(state: S): LoadedState<S> & { snapshotRevision: bigint | undefined } {
  return { state, revision: undefined, lastPosition: undefined, lastEventAt: undefined, snapshotRevision: undefined };
}

/**
 * Keeps decisions O(new events): the state of recently used streams stays in
 * memory with its revision, and a load only reads what was appended since
 * (by another replica, or by this one). A stream not in memory starts from its
 * latest snapshot. Both are only ever built from committed events.
 */
export class StreamStateCache<S> {
  // Bounded by count and by an estimate of size: a project's state carries its assets' URLs.
  private readonly cache = new LRUCache<string, LoadedState<S> & { snapshotRevision: bigint | undefined }>({
    max: CACHED_STREAMS_MAX,
    maxSize: CACHE_BYTES_MAX,
    sizeCalculation: (entry, key) =>
      key.length + (this.fold.sizeOf ? this.fold.sizeOf(entry.state) : JSON.stringify(entry.state).length) + 64,
  });

  constructor(
    private readonly store: EventStore,
    private readonly fold: StreamFold<S>,
    private readonly snapshots: SnapshotStore,
  ) {}

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

  private keep(streamName: string, entry: LoadedState<S> & { snapshotRevision: bigint | undefined }): void {
    this.cache.set(streamName, entry);
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

  private async fromSnapshot(streamName: string): Promise<LoadedState<S> & { snapshotRevision: bigint | undefined }> {
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
