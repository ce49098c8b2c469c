import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { UnavailableError, type AllStreamResolvedEvent, type AllStreamSubscription } from '@kurrent/kurrentdb-client';
import type { StoredEvent } from '../event-store.port.js';
import { StoreUnavailableError } from '../errors.js';
import { KurrentDbEventStore, KurrentDbSubscription } from './kurrentdb-event-store.js';

/** Stands in for the client's subscription: an object-mode Readable with unsubscribe(). */
function fakeSource() {
  const stream = new PassThrough({ objectMode: true });
  // jest.fn is not a global in jest's ESM mode; a counter is all these cases need.
  const unsubscribed = { count: 0 };
  const unsubscribe = async () => {
    unsubscribed.count++;
  };
  return { stream, unsubscribed, source: Object.assign(stream, { unsubscribe }) as unknown as AllStreamSubscription };
}

function resolved(position: bigint, streamId = 'contract-s'): AllStreamResolvedEvent {
  return {
    event: {
      streamId,
      id: randomUUID(),
      revision: 0n,
      type: streamId.startsWith('$') ? '$metadata' : 'Tested',
      created: new Date(),
      isJson: true,
      data: {},
      metadata: undefined,
      position: { commit: position, prepare: position },
    },
    commitPosition: position,
  } as AllStreamResolvedEvent;
}

async function drain(subscription: AsyncIterable<StoredEvent>): Promise<StoredEvent[]> {
  const seen: StoredEvent[] = [];
  for await (const event of subscription) seen.push(event);
  return seen;
}

describe('KurrentDbSubscription', () => {
  it('delivers mapped events strictly after the start position, skipping system events', async () => {
    const { stream, source } = fakeSource();
    const subscription = new KurrentDbSubscription(source, 10n, () => undefined);
    [resolved(10n), resolved(11n), resolved(12n, '$$contract-s'), resolved(13n)].forEach((e) => stream.write(e));
    const seen: bigint[] = [];
    stream.end();
    await expect(
      (async () => {
        for await (const event of subscription) seen.push(event.position);
      })(),
    ).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(seen).toEqual([11n, 13n]);
  });

  it('fails with StoreUnavailableError when the server ends the subscription (the client ends it silently)', async () => {
    const { stream, source } = fakeSource();
    const subscription = new KurrentDbSubscription(source, 0n, () => undefined);
    stream.end();
    await expect(drain(subscription)).rejects.toThrow(/ended the subscription/);
  });

  it('ends a waiting iteration when closed, unsubscribing once and telling the store', async () => {
    const { source, unsubscribed } = fakeSource();
    let storeTold = 0;
    const subscription = new KurrentDbSubscription(source, 0n, () => storeTold++);
    const iteration = drain(subscription);
    await new Promise((resolve) => setImmediate(resolve));
    await subscription.close();
    await expect(iteration).resolves.toEqual([]);
    await subscription.close();
    expect(unsubscribed.count).toBe(1);
    expect(storeTold).toBe(1);
  });

  it('unsubscribes when the consumer stops early', async () => {
    const { stream, source, unsubscribed } = fakeSource();
    const subscription = new KurrentDbSubscription(source, 0n, () => undefined);
    stream.write(resolved(1n));
    stream.write(resolved(2n));
    for await (const event of subscription) {
      expect(event.position).toBe(1n);
      break;
    }
    expect(unsubscribed.count).toBe(1);
  });

  it('reports a failure emitted before anyone iterates, translated', async () => {
    const { stream, source } = fakeSource();
    const subscription = new KurrentDbSubscription(source, 0n, () => undefined);
    stream.emit('error', new UnavailableError());
    await expect(drain(subscription)).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('delivers nothing when iterated after close', async () => {
    const { stream, source } = fakeSource();
    const subscription = new KurrentDbSubscription(source, 0n, () => undefined);
    stream.write(resolved(1n));
    await subscription.close();
    await expect(drain(subscription)).resolves.toEqual([]);
  });
});

describe('KurrentDbEventStore.connect', () => {
  it('refuses stream prefixes that filter nothing or take in system streams', async () => {
    const connectionString = 'kurrentdb://127.0.0.1:1?tls=false';
    await expect(KurrentDbEventStore.connect({ connectionString, streamPrefixes: [] })).rejects.toThrow(RangeError);
    await expect(KurrentDbEventStore.connect({ connectionString, streamPrefixes: [''] })).rejects.toThrow(RangeError);
    await expect(KurrentDbEventStore.connect({ connectionString, streamPrefixes: ['$ce-'] })).rejects.toThrow(
      RangeError,
    );
  });

  it('fails with StoreUnavailableError when no server listens (the real client, a closed port)', async () => {
    await expect(
      KurrentDbEventStore.connect({
        connectionString: 'kurrentdb://127.0.0.1:1?tls=false',
        streamPrefixes: ['ledger-'],
      }),
    ).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});
