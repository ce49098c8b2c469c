import { randomUUID } from 'node:crypto';
import type { EventStore, EventToAppend, StoredEvent } from '../event-store.port.js';
import { InvalidAppendError, VersionConflictError } from '../errors.js';
import { assertOrderedOnce, collectUntil } from './collect.js';

export interface ContractHarness {
  /** A store ready to use; `poolSize` is a hint for adapters that pool connections. */
  create(options?: { poolSize?: number }): Promise<EventStore>;
  /** Stream names the store's subscriptions deliver (a shared KurrentDB filters on it). */
  streamPrefix: string;
}

export function event(
  type = 'Tested',
  data: Record<string, unknown> = {},
  metadata?: Record<string, string>,
): EventToAppend {
  return { id: randomUUID(), type, data, ...(metadata ? { metadata } : {}) };
}

/**
 * The behaviour every event store adapter must have. Each case uses fresh
 * stream names, so the suite can run against a store that other runs share.
 */
export function eventStoreContract(harness: ContractHarness): void {
  let store: EventStore;
  const streamName = (label: string): string => `${harness.streamPrefix}${label}-${randomUUID()}`;

  beforeAll(async () => {
    store = await harness.create({ poolSize: 32 });
  });
  afterAll(async () => {
    await store.close();
  });

  async function expectConflict(promise: Promise<unknown>): Promise<VersionConflictError> {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(VersionConflictError);
    return error as VersionConflictError;
  }

  describe('append with expected revisions', () => {
    it('creates a stream with no_stream and numbers its events from 0', async () => {
      const name = streamName('new');
      const result = await store.append([
        { streamName: name, expectedRevision: 'no_stream', events: [event(), event()] },
      ]);
      expect(result.streams.map(({ streamName, nextRevision }) => ({ streamName, nextRevision }))).toEqual([
        { streamName: name, nextRevision: 1n },
      ]);
      const stored = await store.readStream(name);
      expect(stored.map((e) => e.revision)).toEqual([0n, 1n]);
      expect(stored[1]!.position).toBe(result.position);
      expect(stored[0]!.position).toBeLessThan(stored[1]!.position);
    });

    it('refuses no_stream on an existing stream and writes nothing', async () => {
      const name = streamName('exists');
      await store.append([{ streamName: name, expectedRevision: 'no_stream', events: [event()] }]);
      const conflict = await expectConflict(
        store.append([{ streamName: name, expectedRevision: 'no_stream', events: [event()] }]),
      );
      expect(conflict.conflicts[0]).toMatchObject({ streamName: name, actual: 0n });
      expect(await store.readStream(name)).toHaveLength(1);
    });

    it('appends at the exact revision and refuses a stale one', async () => {
      const name = streamName('exact');
      await store.append([{ streamName: name, expectedRevision: 'no_stream', events: [event(), event()] }]);
      const ok = await store.append([{ streamName: name, expectedRevision: 1n, events: [event()] }]);
      expect(ok.streams[0]!.nextRevision).toBe(2n);
      const conflict = await expectConflict(
        store.append([{ streamName: name, expectedRevision: 1n, events: [event()] }]),
      );
      expect(conflict.conflicts[0]).toMatchObject({ streamName: name, actual: 2n });
      expect(await store.readStream(name)).toHaveLength(3);
    });

    it('refuses an exact revision on a missing stream', async () => {
      const name = streamName('missing-exact');
      await expectConflict(store.append([{ streamName: name, expectedRevision: 0n, events: [event()] }]));
      expect(await store.readStream(name)).toEqual([]);
    });

    it('refuses stream_exists on a missing stream and accepts it on an existing one', async () => {
      const name = streamName('must-exist');
      await expectConflict(store.append([{ streamName: name, expectedRevision: 'stream_exists', events: [event()] }]));
      await store.append([{ streamName: name, expectedRevision: 'any', events: [event()] }]);
      const ok = await store.append([{ streamName: name, expectedRevision: 'stream_exists', events: [event()] }]);
      expect(ok.streams[0]!.nextRevision).toBe(1n);
    });

    it('accepts any on a missing and on an existing stream', async () => {
      const name = streamName('any');
      await store.append([{ streamName: name, expectedRevision: 'any', events: [event()] }]);
      const second = await store.append([{ streamName: name, expectedRevision: 'any', events: [event(), event()] }]);
      expect(second.streams[0]!.nextRevision).toBe(2n);
    });

    it('refuses malformed appends before touching the store', async () => {
      const name = streamName('invalid');
      await expect(
        store.append([
          { streamName: name, expectedRevision: 'any', events: [{ id: 'not-a-uuid', type: 'X', data: {} }] },
        ]),
      ).rejects.toBeInstanceOf(InvalidAppendError);
      await expect(store.append([{ streamName: name, expectedRevision: 'any', events: [] }])).rejects.toBeInstanceOf(
        InvalidAppendError,
      );
      await expect(store.append([])).rejects.toBeInstanceOf(InvalidAppendError);
      const badMetadata = { ...event(), metadata: { n: 1 } as unknown as Record<string, string> };
      await expect(
        store.append([{ streamName: name, expectedRevision: 'any', events: [badMetadata] }]),
      ).rejects.toBeInstanceOf(InvalidAppendError);
      expect(await store.readStream(name)).toEqual([]);
    });
  });

  describe('atomic multi-stream append', () => {
    it('writes to every stream, each at its own revision', async () => {
      const a = streamName('multi-a');
      const b = streamName('multi-b');
      await store.append([{ streamName: a, expectedRevision: 'no_stream', events: [event()] }]);
      const result = await store.append([
        { streamName: a, expectedRevision: 0n, events: [event('Debited')] },
        { streamName: b, expectedRevision: 'no_stream', events: [event('Started'), event('Claimed')] },
      ]);
      expect(new Map(result.streams.map((s) => [s.streamName, s.nextRevision]))).toEqual(
        new Map([
          [a, 1n],
          [b, 1n],
        ]),
      );
      const written = [...(await store.readStream(a)), ...(await store.readStream(b))];
      expect(written).toHaveLength(4);
      expect(written.reduce((max, e) => (e.position > max ? e.position : max), 0n)).toBe(result.position);
    });

    it('positions events in the order given, streams and events alike', async () => {
      const late = streamName('order-z');
      const early = streamName('order-a');
      const [z1, z2, a1] = [event('Z1'), event('Z2'), event('A1')];
      const result = await store.append([
        { streamName: late, expectedRevision: 'no_stream', events: [z1, z2] },
        { streamName: early, expectedRevision: 'no_stream', events: [a1] },
      ]);
      const [stored] = await store.readStream(early);
      expect(stored!.position).toBe(result.position);
      const zs = await store.readStream(late);
      expect(zs[0]!.position).toBeLessThan(zs[1]!.position);
      expect(zs[1]!.position).toBeLessThan(stored!.position);
    });

    it('writes nothing anywhere when one stream conflicts', async () => {
      const a = streamName('atomic-a');
      const b = streamName('atomic-b');
      await store.append([{ streamName: b, expectedRevision: 'no_stream', events: [event()] }]);
      const head = await store.headPosition();
      const conflict = await expectConflict(
        store.append([
          { streamName: a, expectedRevision: 'no_stream', events: [event()] },
          { streamName: b, expectedRevision: 'no_stream', events: [event()] },
        ]),
      );
      expect(conflict.conflicts.map((c) => c.streamName)).toContain(b);
      expect(await store.readStream(a)).toEqual([]);
      expect(await store.readStream(b)).toHaveLength(1);
      const after = await store.readAll({ afterPosition: head, limit: 100 });
      expect(after.filter((e) => e.streamName === a || e.streamName === b)).toEqual([]);
    });
  });

  describe('idempotent appends by event id', () => {
    it('returns the original result for a re-append and writes nothing', async () => {
      const name = streamName('replay');
      const events = [event(), event()];
      const first = await store.append([{ streamName: name, expectedRevision: 'no_stream', events }]);
      const again = await store.append([{ streamName: name, expectedRevision: 'no_stream', events }]);
      expect(again).toEqual(first);
      expect(await store.readStream(name)).toHaveLength(2);
    });

    it('recognises a replay of a multi-stream append after the streams moved on', async () => {
      const a = streamName('replay-a');
      const b = streamName('replay-b');
      const batch = [
        { streamName: a, expectedRevision: 'no_stream' as const, events: [event()] },
        { streamName: b, expectedRevision: 'no_stream' as const, events: [event()] },
      ];
      const first = await store.append(batch);
      await store.append([{ streamName: a, expectedRevision: 0n, events: [event()] }]);
      const again = await store.append(batch);
      expect(again.position).toBe(first.position);
      expect(await store.readStream(a)).toHaveLength(2);
      expect(await store.readStream(b)).toHaveLength(1);
    });
  });

  describe('reading', () => {
    it('keeps every field of an event as appended', async () => {
      const name = streamName('fields');
      const appended = event(
        'CreditsGranted',
        { amount: 1_000_000_000_000, source: 'purchase', nested: { a: [1, 2] } },
        {
          commandId: 'c-1',
          caller: 'admin',
        },
      );
      const before = Date.now();
      await store.append([{ streamName: name, expectedRevision: 'no_stream', events: [appended] }]);
      const [stored] = await store.readStream(name);
      expect(stored).toMatchObject({
        id: appended.id,
        type: 'CreditsGranted',
        data: appended.data,
        metadata: appended.metadata,
        streamName: name,
        revision: 0n,
      });
      expect(typeof stored!.position).toBe('bigint');
      expect(stored!.createdAt.getTime()).toBeGreaterThan(before - 60_000);
    });

    it('reads a stream forwards from a revision with a limit', async () => {
      const name = streamName('forwards');
      await store.append([
        { streamName: name, expectedRevision: 'no_stream', events: Array.from({ length: 10 }, () => event()) },
      ]);
      const page = await store.readStream(name, { fromRevision: 3n, limit: 4 });
      expect(page.map((e) => e.revision)).toEqual([3n, 4n, 5n, 6n]);
    });

    it('reads a stream backwards from the end or from a revision', async () => {
      const name = streamName('backwards');
      await store.append([
        { streamName: name, expectedRevision: 'no_stream', events: Array.from({ length: 10 }, () => event()) },
      ]);
      const last = await store.readStream(name, { direction: 'backwards', limit: 3 });
      expect(last.map((e) => e.revision)).toEqual([9n, 8n, 7n]);
      const middle = await store.readStream(name, { direction: 'backwards', fromRevision: 4n, limit: 2 });
      expect(middle.map((e) => e.revision)).toEqual([4n, 3n]);
    });

    it('reads several streams at once, each from its own revision and with its own limit', async () => {
      const a = streamName('many-a');
      const b = streamName('many-b');
      await store.append([
        { streamName: a, expectedRevision: 'no_stream', events: Array.from({ length: 5 }, () => event()) },
      ]);
      await store.append([{ streamName: b, expectedRevision: 'no_stream', events: [event(), event()] }]);
      const [fromA, fromB, missing, limited] = await store.readStreams([
        { streamName: a, fromRevision: 3n },
        { streamName: b },
        { streamName: streamName('many-missing') },
        { streamName: a, fromRevision: 1n, limit: 2 },
      ]);
      expect(fromA!.map((e) => e.revision)).toEqual([3n, 4n]);
      expect(fromB!.map((e) => [e.streamName, e.revision])).toEqual([
        [b, 0n],
        [b, 1n],
      ]);
      expect(missing).toEqual([]);
      expect(limited!.map((e) => e.revision)).toEqual([1n, 2n]);
    });

    it('reads an unknown stream as empty', async () => {
      expect(await store.readStream(streamName('unknown'))).toEqual([]);
    });

    it('reads all events after a position, in position order, with a limit', async () => {
      const name = streamName('all');
      const head = await store.headPosition();
      await store.append([
        { streamName: name, expectedRevision: 'no_stream', events: Array.from({ length: 5 }, () => event()) },
      ]);
      const mine = (await store.readAll({ afterPosition: head, limit: 1000 })).filter((e) => e.streamName === name);
      expect(mine.map((e) => e.revision)).toEqual([0n, 1n, 2n, 3n, 4n]);
      assertOrderedOnce(mine);
      const limited = await store.readAll({ afterPosition: head, limit: 2 });
      expect(limited).toHaveLength(2);
      expect(limited[0]!.position).toBeGreaterThan(head);
      expect(await store.headPosition()).toBeGreaterThanOrEqual(mine[4]!.position);
    });
  });

  describe('concurrency', () => {
    it('lets each revision of a stream be won exactly once by concurrent appenders', async () => {
      const name = streamName('race');
      const writers = 16;
      const appendsPerWriter = 5;
      const won: bigint[] = [];
      let conflicts = 0;
      await Promise.all(
        Array.from({ length: writers }, async () => {
          for (let done = 0; done < appendsPerWriter;) {
            const [last] = await store.readStream(name, { direction: 'backwards', limit: 1 });
            const expected = last ? last.revision : 'no_stream';
            try {
              const result = await store.append([{ streamName: name, expectedRevision: expected, events: [event()] }]);
              won.push(result.streams[0]!.nextRevision);
              done++;
            } catch (error) {
              if (!(error instanceof VersionConflictError)) throw error;
              conflicts++;
            }
          }
        }),
      );
      const total = writers * appendsPerWriter;
      expect([...won].sort((x, y) => (x < y ? -1 : 1))).toEqual(Array.from({ length: total }, (_, i) => BigInt(i)));
      expect((await store.readStream(name, { limit: 1000 })).map((e) => e.revision)).toHaveLength(total);
      expect(conflicts).toBeGreaterThan(0);
    });
  });

  describe('subscriptions', () => {
    const mine = (prefix: string) => (e: StoredEvent) => e.streamName.startsWith(prefix);

    it('catches up from a position, then follows live appends', async () => {
      const prefix = streamName('follow');
      await store.append([{ streamName: `${prefix}-old`, expectedRevision: 'no_stream', events: [event()] }]);
      const from = await store.headPosition();
      await store.append([{ streamName: `${prefix}-a`, expectedRevision: 'no_stream', events: [event(), event()] }]);
      const subscription = store.subscribeToAll({ afterPosition: from });
      const received = collectUntil(subscription, mine(prefix), (r) => r.length === 4);
      await store.append([{ streamName: `${prefix}-b`, expectedRevision: 'no_stream', events: [event(), event()] }]);
      const events = await received;
      expect(events.map((e) => e.streamName)).toEqual([`${prefix}-a`, `${prefix}-a`, `${prefix}-b`, `${prefix}-b`]);
      assertOrderedOnce(events);
    });

    it('delivers every event once, in position order, while 24 connections append at once', async () => {
      const prefix = streamName('storm');
      const from = await store.headPosition();
      const writers = 24;
      const appendsPerWriter = 10;
      const subscription = store.subscribeToAll({ afterPosition: from });
      const received = collectUntil(subscription, mine(prefix), (r) => r.length === writers * appendsPerWriter * 2);
      const appended: string[] = [];
      await Promise.all(
        Array.from({ length: writers }, async (_, w) => {
          for (let i = 0; i < appendsPerWriter; i++) {
            const batch = [event(), event()];
            await store.append([
              { streamName: `${prefix}-w${w}-a`, expectedRevision: 'any', events: [batch[0]!] },
              { streamName: `${prefix}-w${w}-b`, expectedRevision: 'any', events: [batch[1]!] },
            ]);
            appended.push(...batch.map((e) => e.id));
          }
        }),
      );
      const events = await received;
      assertOrderedOnce(events);
      expect(new Set(events.map((e) => e.id))).toEqual(new Set(appended));
    });

    it('stops delivering when closed', async () => {
      const subscription = store.subscribeToAll({ afterPosition: await store.headPosition() });
      const iteration = (async () => {
        const seen: StoredEvent[] = [];
        for await (const e of subscription) seen.push(e);
        return seen;
      })();
      await subscription.close();
      await expect(iteration).resolves.toEqual([]);
    });
  });
}
