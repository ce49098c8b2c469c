import { randomUUID } from 'node:crypto';
import {
  ANY,
  NO_STREAM,
  STREAM_EXISTS,
  type AllStreamResolvedEvent,
  type ResolvedEvent,
} from '@kurrent/kurrentdb-client';
import { createdAt, toEventData, toMetadata, toStoredEvent, toStreamState } from './kurrentdb-mapping.js';

const created = new Date('2025-06-01T12:00:00Z');

/** A resolved event as the client yields it from readAll / subscribeToAll. */
function fromAll(overrides: Partial<NonNullable<AllStreamResolvedEvent['event']>> = {}): AllStreamResolvedEvent {
  return {
    event: {
      streamId: 'wallet-1',
      id: randomUUID(),
      revision: 4n,
      type: 'CreditsGranted',
      created,
      isJson: true,
      data: { amount: 1_000_000_000_000, nested: { a: [1, 2] } },
      metadata: { commandId: 'c-1' },
      position: { commit: 2_048n, prepare: 2_048n },
      ...overrides,
    } as NonNullable<AllStreamResolvedEvent['event']>,
    commitPosition: 2_048n,
  };
}

describe('toStreamState', () => {
  it('maps each expected revision to the client stream state', () => {
    expect(toStreamState('any')).toBe(ANY);
    expect(toStreamState('no_stream')).toBe(NO_STREAM);
    expect(toStreamState('stream_exists')).toBe(STREAM_EXISTS);
    expect(toStreamState(0n)).toBe(0n);
    expect(toStreamState(41n)).toBe(41n);
  });
});

describe('toEventData', () => {
  it('keeps the caller id, type, data and metadata as a JSON event', () => {
    const id = randomUUID();
    expect(toEventData({ id, type: 'Debited', data: { amount: 5 }, metadata: { caller: 'admin' } })).toEqual({
      id,
      contentType: 'application/json',
      type: 'Debited',
      data: { amount: 5 },
      metadata: { caller: 'admin' },
    });
  });

  it('sends an empty string map when the event has no metadata', () => {
    expect(toEventData({ id: randomUUID(), type: 'X', data: {} }).metadata).toEqual({});
  });
});

describe('toStoredEvent', () => {
  it('maps every field of an event read from $all; position is the commit position', () => {
    const resolved = fromAll();
    expect(toStoredEvent(resolved)).toEqual({
      id: resolved.event!.id,
      type: 'CreditsGranted',
      data: { amount: 1_000_000_000_000, nested: { a: [1, 2] } },
      metadata: { commandId: 'c-1' },
      streamName: 'wallet-1',
      revision: 4n,
      position: 2_048n,
      createdAt: created,
    });
  });

  it('takes the position of a stream read from the recorded event', () => {
    const fromStream: ResolvedEvent = { event: fromAll({ position: { commit: 77n, prepare: 77n } }).event as never };
    expect(toStoredEvent(fromStream)!.position).toBe(77n);
  });

  it("takes the recorded event's position, not the resolved commit position", () => {
    const resolved = { ...fromAll({ position: { commit: 77n, prepare: 77n } }), commitPosition: 99n };
    expect(toStoredEvent(resolved)!.position).toBe(77n);
  });

  it('refuses position 0, what the client makes of a position the server did not send', () => {
    const resolved = { event: fromAll({ position: { commit: 0n, prepare: 0n } }).event };
    expect(() => toStoredEvent(resolved)).toThrow(/without a position/);
  });

  it('refuses an event that carries no position at all', () => {
    const resolved = { event: fromAll({ position: undefined as never }).event };
    expect(() => toStoredEvent(resolved)).toThrow(/without a position/);
  });

  it.each([
    ['a system stream', { streamId: '$$wallet-1' }],
    ['a system event type', { type: '$metadata' }],
    ['a link', { streamId: '$ce-wallet', type: '$>' }],
  ])('skips %s', (_label, overrides) => {
    expect(toStoredEvent(fromAll(overrides))).toBeNull();
  });

  it('skips a resolved event without a recorded event', () => {
    expect(toStoredEvent({ commitPosition: 5n })).toBeNull();
  });

  it('parses data that arrives as bytes', () => {
    const resolved = fromAll({ isJson: false as never, data: Buffer.from('{"amount":3}') as never });
    expect(toStoredEvent(resolved)!.data).toEqual({ amount: 3 });
  });

  it('refuses data that is not a JSON object', () => {
    expect(() => toStoredEvent(fromAll({ data: [1, 2] }))).toThrow(/not a JSON object/);
  });

  it('drops the $ keys KurrentDB adds to events written by multiStreamAppend', () => {
    const metadata = { commandId: 'c-2', '$schema.name': 'CreditsGranted', '$schema.format': 'Json' };
    expect(toStoredEvent(fromAll({ metadata }))!.metadata).toEqual({ commandId: 'c-2' });
  });
});

describe('createdAt', () => {
  const created = new Date('2026-12-01T01:59:26.873Z');

  it("takes the v2 record's millisecond timestamp when the metadata has one (JSON or bytes)", () => {
    const stamp = Date.parse('2026-12-01T01:59:26.871Z');
    expect(createdAt(created, { '$record.timestamp': stamp }).toISOString()).toBe('2026-12-01T01:59:26.871Z');
    const bytes = new TextEncoder().encode(JSON.stringify({ '$record.timestamp': stamp }));
    expect(createdAt(new Date('2026-12-01T01:59:26.000Z'), bytes).getTime()).toBe(stamp);
  });

  it('otherwise cuts created to the second, as the Rust bridge gives it, on every path', () => {
    expect(createdAt(created, { commandId: 'c-1' }).toISOString()).toBe('2026-12-01T01:59:26.000Z');
    expect(createdAt(created, undefined).toISOString()).toBe('2026-12-01T01:59:26.000Z');
  });
});

describe('toMetadata', () => {
  it('returns an empty map for no metadata', () => {
    expect(toMetadata(undefined)).toEqual({});
  });

  it('parses JSON bytes and ignores bytes that are not JSON', () => {
    expect(toMetadata(new Uint8Array(Buffer.from('{"caller":"admin"}')))).toEqual({ caller: 'admin' });
    expect(toMetadata(new Uint8Array([0xff, 0x00]))).toEqual({});
  });

  it('keeps a string map and serialises values written as other JSON', () => {
    expect(toMetadata({ a: 'x', n: 1, flag: true, list: [1] })).toEqual({ a: 'x', n: '1', flag: 'true', list: '[1]' });
  });

  it('returns an empty map for JSON that is not an object', () => {
    expect(toMetadata(['a'])).toEqual({});
    expect(toMetadata('text')).toEqual({});
  });
});
