import { setImmediate as nextTurn } from 'node:timers/promises';
import { StoreUnavailableError, type EventStore, type StoredEvent, type Subscription } from '@ledger/event-store';
import { ledgerEvents, type LogRange } from './ledger-log.js';
import { EventsReader } from './read-events.query.js';

/** A log in memory whose subscription counts what was pulled from it, and whether it was closed. */
class CountingStore {
  pulled = 0;
  closed = 0;

  constructor(
    private readonly events: readonly StoredEvent[],
    private readonly stallAfter = Number.POSITIVE_INFINITY,
  ) {}

  headPosition(): Promise<bigint> {
    return Promise.resolve(this.events.at(-1)?.position ?? 0n);
  }

  subscribeToAll({ afterPosition = 0n } = {}): Subscription {
    let closed = false;
    const source = async function* (this: CountingStore): AsyncGenerator<StoredEvent> {
      for (const event of this.events) {
        if (event.position <= afterPosition) continue;
        if (this.pulled >= this.stallAfter) await new Promise(() => undefined);
        if (closed) return;
        this.pulled++;
        yield event;
      }
      // Live: a subscription waits for more rather than ending.
      await new Promise(() => undefined);
    };
    return Object.assign(source.call(this), {
      close: () => {
        closed = true;
        this.closed++;
        return Promise.resolve();
      },
    });
  }
}

function eventsOf(count: number): StoredEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `e${i + 1}`,
    // Every third is an idempotency record, as after each command.
    streamName: i % 3 === 2 ? `idem-${i}` : `account-a${i % 7}`,
    type: i % 3 === 2 ? 'CommandRecorded' : 'CreditsGranted',
    data: { amount: 1 },
    metadata: {},
    revision: 0n,
    position: BigInt(i + 1),
    createdAt: new Date(0),
  }));
}

const asStore = (store: CountingStore) => store as unknown as EventStore;

/** All that `ledgerEvents` yields for the range, as a list. */
async function ledgerEventsOf(store: CountingStore, range: LogRange, stallMs?: number): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  for await (const event of ledgerEvents(asStore(store), range, stallMs)) events.push(event);
  return events;
}

describe('ledgerEvents', () => {
  it('yields the ledger events after `after` up to `upTo`, without idempotency records, and closes', async () => {
    const store = new CountingStore(eventsOf(30));
    const events = await ledgerEventsOf(store, { after: 4n, upTo: 20n, limit: 1_000 });
    expect(events.map((e) => Number(e.position))).toEqual([5, 7, 8, 10, 11, 13, 14, 16, 17, 19, 20]);
    // It stopped at upTo although the subscription would have gone on (and then waited).
    expect(store.pulled).toBe(16);
    expect(store.closed).toBe(1);
  });

  it('stops at the limit, counting ledger events only', async () => {
    const store = new CountingStore(eventsOf(30));
    const events = await ledgerEventsOf(store, { after: 0n, upTo: 30n, limit: 4 });
    expect(events.map((e) => Number(e.position))).toEqual([1, 2, 4, 5]);
    expect(store.closed).toBe(1);
  });

  it('reads nothing for an empty range', async () => {
    const store = new CountingStore(eventsOf(3));
    expect(await ledgerEventsOf(store, { after: 3n, upTo: 3n, limit: 10 })).toEqual([]);
    expect(store.pulled).toBe(0);
  });

  it('gives up with 503 when the log does not advance, and closes the subscription', async () => {
    const store = new CountingStore(eventsOf(10), 2);
    const reading = ledgerEventsOf(store, { after: 0n, upTo: 10n, limit: 100 }, 20);
    await expect(reading).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(store.closed).toBe(1);
  });

  it('closes the subscription when the consumer stops early', async () => {
    const store = new CountingStore(eventsOf(30));
    for await (const event of ledgerEvents(asStore(store), { after: 0n, upTo: 30n, limit: 100 })) {
      if (event.position >= 2n) break;
    }
    expect(store.closed).toBe(1);
    expect(store.pulled).toBe(2);
  });
});

describe('EventsReader.stream', () => {
  it('reads the log only as fast as the client takes the NDJSON (backpressure)', async () => {
    const store = new CountingStore(eventsOf(200_000));
    const { upTo, body } = await new EventsReader(asStore(store)).stream(0n, Number.MAX_SAFE_INTEGER);
    expect(upTo).toBe(200_000n);
    const first = await new Promise<Buffer>((resolve) => body.once('data', resolve));
    body.pause();
    for (let i = 0; i < 20; i++) await nextTurn();
    // A 64 KiB buffer holds a few hundred lines; the log is far longer.
    expect(first.toString().split('\n')[0]).toContain('"position":1');
    expect(store.pulled).toBeLessThan(2_000);
    body.destroy();
    for (let i = 0; i < 5; i++) await nextTurn();
    expect(store.closed).toBe(1);
  });

  it('streams every ledger event once, in order, one JSON line each', async () => {
    const store = new CountingStore(eventsOf(3_000));
    const { body } = await new EventsReader(asStore(store)).stream(0n, Number.MAX_SAFE_INTEGER);
    let text = '';
    for await (const chunk of body) text += String(chunk);
    const lines = text
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { position: number });
    expect(lines).toHaveLength(2_000);
    expect(lines.map((l) => l.position)).toEqual(
      eventsOf(3_000)
        .filter((_, i) => i % 3 !== 2)
        .map((e) => Number(e.position)),
    );
  });
});
