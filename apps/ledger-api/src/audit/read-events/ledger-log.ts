import { StoreUnavailableError, type EventStore, type StoredEvent } from '@ledger/event-store';
import { isLedgerEvent } from '../audit-event.js';

export interface LogRange {
  /** Exclusive. */
  after: bigint;
  /** Inclusive: the head when the request came, so a read ends while commands keep appending. */
  upTo: bigint;
  /** Ledger events at most (idempotency records are not counted: they are left out). */
  limit: number;
}

// A transaction still running below the head holds the log back for milliseconds;
// this long without one event means something is stuck, and the reader says so.
export const STALL_MS = 30_000;

/**
 * The ledger events of a range of the global log, in order, each once. Read through
 * the store's subscription rather than plain `readAll` pages: it reads in bounded
 * batches (500) only as fast as this generator is pulled, and it never passes a
 * position that a transaction still running could fill in below the head, which
 * paging `readAll` up to the head could (an event committed late would be skipped).
 */
export async function* ledgerEvents(
  store: EventStore,
  range: LogRange,
  stallMs = STALL_MS,
): AsyncGenerator<StoredEvent> {
  if (range.upTo <= range.after || range.limit <= 0) return;
  const subscription = store.subscribeToAll({ afterPosition: range.after });
  const iterator = subscription[Symbol.asyncIterator]();
  let sent = 0;
  try {
    while (sent < range.limit) {
      const next = await nextWithin(iterator, stallMs, range.upTo);
      if (next.done || next.value.position > range.upTo) return;
      if (isLedgerEvent(next.value)) {
        sent++;
        yield next.value;
      }
      if (next.value.position === range.upTo) return;
    }
  } finally {
    await subscription.close();
    // Ends the subscription's own generator (its listeners); not awaited, as after a
    // stall it may still be waiting on the store, and close() has already stopped it.
    void iterator.return?.()?.catch(() => undefined);
  }
}

async function nextWithin<T>(iterator: AsyncIterator<T>, ms: number, upTo: bigint): Promise<IteratorResult<T>> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new StoreUnavailableError(`the event log did not advance towards position ${upTo} for ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([iterator.next(), stalled]);
  } finally {
    clearTimeout(timer);
  }
}
