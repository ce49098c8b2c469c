import { randomUUID } from 'node:crypto';
import { jsonEvent, KurrentDBClient } from '@kurrent/kurrentdb-client';
import type { StoredEvent, StreamAppend } from '../event-store.port.js';
import {
  IncompatibleStoreError,
  InvalidAppendError,
  InvalidPositionError,
  StoreUnavailableError,
  VersionConflictError,
} from '../errors.js';
import { event, KurrentDbDouble } from '../testing/index.js';
import { KurrentDbEventStore } from './kurrentdb-event-store.js';
import { translateKurrentError } from './kurrentdb-errors.js';
import { MAX_RECORD_BYTES } from './kurrentdb-validation.js';

/**
 * The issue-15 findings and the faults a real server can produce, each through the real client
 * (grpc-js and the Rust bridge) against the kurrentdb double, each mapped to the error the
 * port promises.
 */
const PREFIX = 'fault-';
const name = (label: string) => `${PREFIX}${label}-${randomUUID()}`;

function connect(double: KurrentDbDouble): Promise<KurrentDbEventStore> {
  return KurrentDbEventStore.connect({ connectionString: double.connectionString, streamPrefixes: [PREFIX] });
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

/** Iterates a subscription until it fails, after the first event arrived (signalled). */
function iterate(subscription: AsyncIterable<StoredEvent>, onFirst: () => void): Promise<unknown> {
  return (async () => {
    try {
      for await (const _ of subscription) onFirst();
    } catch (error) {
      return error;
    }
    return undefined;
  })();
}

describe('KurrentDbEventStore on the kurrentdb double: findings and faults', () => {
  describe('finding 1: the server version (minimum 25.1.4)', () => {
    it.each(['25.1.0', '25.1.3', '24.10.5'])(
      'refuses to connect to KurrentDB %s with a clear error',
      async (version) => {
        const old = await KurrentDbDouble.start({ serverVersion: version });
        try {
          const error = await rejection(connect(old));
          expect(error).toBeInstanceOf(IncompatibleStoreError);
          expect((error as Error).message).toContain(`KurrentDB ${version} is older than 25.1.4`);
        } finally {
          await old.stop();
        }
      },
    );

    it('connects to 25.1.4 and later', async () => {
      for (const version of ['25.1.4', '26.1.0']) {
        const current = await KurrentDbDouble.start({ serverVersion: version });
        const store = await connect(current);
        await store.close();
        await current.stop();
      }
    });
  });

  describe('finding 6: connect and ping check both client halves and the v2 append session', () => {
    it('refuses a server without the v2 append session, or one too old to report its features', async () => {
      for (const options of [{ withoutAppendSession: true }, { serverVersion: '' }]) {
        const server = await KurrentDbDouble.start(options);
        try {
          const error = await rejection(connect(server));
          expect(error).toBeInstanceOf(IncompatibleStoreError);
          expect((error as Error).message).toMatch(/multi-stream append/);
        } finally {
          await server.stop();
        }
      }
    });

    it('fails ping when the grpc-js half fails while reads (the Rust bridge) still work', async () => {
      const double = await KurrentDbDouble.start();
      const store = await connect(double);
      try {
        await store.ping();
        double.featuresUnavailable = true;
        await expect(store.readStream(name('still-readable'))).resolves.toEqual([]);
        await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
        double.featuresUnavailable = false;
        await store.ping();
      } finally {
        await store.close();
        await double.stop();
      }
    });
  });

  describe('finding 5: a secured cluster must let the ledger read $all', () => {
    it('refuses to connect, and fails ping, with that reason', async () => {
      const double = await KurrentDbDouble.start();
      const store = await connect(double);
      try {
        double.denyAllReads = true;
        const pinged = await rejection(store.ping());
        expect(pinged).toBeInstanceOf(IncompatibleStoreError);
        expect((pinged as Error).message).toMatch(/read \$all/);
        const connected = await rejection(connect(double));
        expect(connected).toBeInstanceOf(IncompatibleStoreError);
      } finally {
        await store.close();
        await double.stop();
      }
    });
  });

  describe('with one store', () => {
    let double: KurrentDbDouble;
    let store: KurrentDbEventStore;
    beforeAll(async () => {
      double = await KurrentDbDouble.start();
      store = await connect(double);
    });
    afterAll(async () => {
      await store.close();
      await double.stop();
    });

    describe('finding 4: what the server refuses is refused before sending, as InvalidAppendError', () => {
      const cases: [string, (stream: string) => StreamAppend[]][] = [
        ['an event type outside ^[a-zA-Z0-9_.$:-]+$', (s) => [one(s, { ...event(), type: 'Credits Granted' })]],
        ['an empty metadata key', (s) => [one(s, event('Tested', {}, { '': 'x' }))]],
        ['a $schema.* metadata key', (s) => [one(s, event('Tested', {}, { '$schema.name': 'Other' }))]],
        ['a record over the size limit', (s) => [one(s, event('Tested', { blob: 'x'.repeat(MAX_RECORD_BYTES) }))]],
        ['stream names that differ only in case', (s) => [one(s, event()), one(s.toUpperCase(), event())]],
      ];
      it.each(cases)('%s', async (_label, build) => {
        const stream = name('refused');
        const calls = double.appendCalls;
        await expect(store.append(build(stream))).rejects.toBeInstanceOf(InvalidAppendError);
        expect(double.appendCalls).toBe(calls);
        expect(await store.readStream(stream)).toEqual([]);
      });

      it('and what reaches the server anyway (ABORTED for case-only names) is InvalidAppendError too, not a timeout', async () => {
        const client = KurrentDBClient.connectionString(double.connectionString);
        const stream = name('case');
        try {
          const raw = await rejection(
            client.multiStreamAppend([
              { streamName: stream, expectedState: 'any', events: [jsonEvent({ type: 'T', data: {} })] },
              { streamName: stream.toUpperCase(), expectedState: 'any', events: [jsonEvent({ type: 'T', data: {} })] },
            ]),
          );
          expect(() => translateKurrentError(raw, 'append')).toThrow(InvalidAppendError);
        } finally {
          await client.dispose();
        }
      });
    });

    describe('finding 3: a partly replayed multi-stream append', () => {
      it.each(['no_stream', 'any'] as const)(
        'is a VersionConflictError naming the replayed stream (25.1 answers INTERNAL), and writes nothing (%s)',
        async (expected) => {
          const a = name('partly-a');
          const b = name('partly-b');
          const first = event();
          await store.append([one(a, first, 'no_stream')]);
          const error = await rejection(store.append([one(a, first, expected), one(b, event(), 'no_stream')]));
          expect(error).toBeInstanceOf(VersionConflictError);
          expect((error as VersionConflictError).conflicts).toEqual([{ streamName: a, expected, actual: 0n }]);
          expect(await store.readStream(b)).toEqual([]);
        },
      );
    });

    describe('faults', () => {
      it('ABORTED (a timed-out write) is StoreUnavailableError; ABORTED for too big an append is InvalidAppendError', async () => {
        double.failNextAppend({ kind: 'aborted-timeout' });
        await expect(store.append([one(name('aborted'), event())])).rejects.toBeInstanceOf(StoreUnavailableError);
        double.failNextAppend({ kind: 'aborted-too-big' });
        await expect(store.append([one(name('aborted'), event())])).rejects.toBeInstanceOf(InvalidAppendError);
      });

      it('a connection dropped before the write: StoreUnavailableError, nothing written, the retry writes', async () => {
        const stream = name('drop-before');
        const events = [event()];
        double.failNextAppend({ kind: 'drop-before-write' });
        await expect(store.append([one(stream, events[0]!, 'no_stream')])).rejects.toBeInstanceOf(
          StoreUnavailableError,
        );
        expect(await store.readStream(stream)).toEqual([]);
        const retried = await store.append([one(stream, events[0]!, 'no_stream')]);
        expect(retried.streams).toEqual([{ streamName: stream, nextRevision: 0n }]);
      });

      it('a connection dropped after the write: StoreUnavailableError, and the retry returns the original result once', async () => {
        const a = name('drop-after-a');
        const b = name('drop-after-b');
        const append = [one(a, event(), 'no_stream'), one(b, event(), 'no_stream')];
        double.failNextAppend({ kind: 'drop-after-write' });
        await expect(store.append(append)).rejects.toBeInstanceOf(StoreUnavailableError);
        const retried = await store.append(append);
        const [stored] = await store.readStream(b);
        expect(retried.position).toBe(stored!.position);
        expect(await store.readStream(a)).toHaveLength(1);
        expect(await store.readStream(b)).toHaveLength(1);
      });

      it.each([
        ['ended by the server', (d: KurrentDbDouble) => d.endSubscriptions()],
        ['dropped with its connection', (d: KurrentDbDouble) => void d.dropConnections()],
      ])('a subscription %s fails with StoreUnavailableError', async (_label, fault) => {
        const from = await store.headPosition();
        const subscription = store.subscribeToAll({ afterPosition: from });
        let first!: () => void;
        const gotFirst = new Promise<void>((resolve) => (first = resolve));
        const ended = iterate(subscription, () => first());
        await store.append([one(name('sub'), event())]);
        await gotFirst;
        fault(double);
        expect(await ended).toBeInstanceOf(StoreUnavailableError);
        await subscription.close();
      });
    });

    describe('finding 7: positions', () => {
      it('a read or subscription from a position that is no event is InvalidPositionError', async () => {
        await store.append([one(name('pos'), event(), 'no_stream'), one(name('pos'), event(), 'no_stream')]);
        const head = await store.headPosition();
        await expect(store.readAll({ afterPosition: head - 1n })).rejects.toBeInstanceOf(InvalidPositionError);
        const subscription = store.subscribeToAll({ afterPosition: head - 1n });
        expect(await iterate(subscription, () => undefined)).toBeInstanceOf(InvalidPositionError);
      });

      it('reports positions in bytes of log, not events', async () => {
        expect(store.positionUnit).toBe('bytes');
        const result = await store.append([one(name('unit'), event()), one(name('unit'), event())]);
        const [first] = await store.readStream(result.streams[0]!.streamName);
        expect(result.position - first!.position).toBeGreaterThan(1n);
      });
    });
  });

  describe('finding 2: a follower after a leader change', () => {
    it('answers not-leader: StoreUnavailableError, then the store reconnects to the leader it named', async () => {
      const leader = await KurrentDbDouble.start();
      const follower = await KurrentDbDouble.start();
      const store = await connect(follower);
      try {
        follower.failNextAppend({ kind: 'not-leader', leader: { host: '127.0.0.1', port: leader.port } });
        const stream = name('leader');
        await expect(store.append([one(stream, event(), 'no_stream')])).rejects.toBeInstanceOf(StoreUnavailableError);
        const retried = await store.append([one(stream, event(), 'no_stream')]);
        expect(retried.streams[0]!.nextRevision).toBe(0n);
        expect(leader.appendCalls).toBe(1);
        expect(await store.readStream(stream)).toHaveLength(1);
      } finally {
        await store.close();
        await Promise.all([leader.stop(), follower.stop()]);
      }
    });
  });
});

function one(
  streamName: string,
  appended: ReturnType<typeof event>,
  expectedRevision: StreamAppend['expectedRevision'] = 'any',
): StreamAppend {
  return { streamName, expectedRevision, events: [appended] };
}
