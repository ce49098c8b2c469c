import {
  AccessDeniedError,
  DeadlineExceededError,
  NO_STREAM,
  NotLeaderError,
  StreamNotFoundError,
  TimeoutError,
  UnavailableError,
  WrongExpectedVersionError,
} from '@kurrent/kurrentdb-client';
import { StoreUnavailableError, VersionConflictError } from '../errors.js';
import { isStreamNotFound, translateKurrentError } from './kurrentdb-errors.js';

function translated(error: unknown): unknown {
  try {
    translateKurrentError(error, 'test');
  } catch (thrown) {
    return thrown;
  }
  throw new Error('translateKurrentError returned');
}

/** What grpc-js rejects with; appendToStream and multiStreamAppend pass these on unconverted. */
function serviceError(code: number, details: string, metadata?: Record<string, string>): Error {
  const error = Object.assign(new Error(`${code} ${details}`), { code, details });
  return metadata ? Object.assign(error, { metadata: { getMap: () => metadata } }) : error;
}

describe('translateKurrentError', () => {
  describe('wrong expected version', () => {
    it('turns the v1 append conflict into a VersionConflictError with stream, expected and actual', () => {
      const error = new WrongExpectedVersionError(undefined, { streamName: 's-1', expected: NO_STREAM, current: 0n });
      const result = translated(error);
      expect(result).toBeInstanceOf(VersionConflictError);
      expect((result as VersionConflictError).conflicts).toEqual([
        { streamName: 's-1', expected: 'no_stream', actual: 0n },
      ]);
    });

    it('reports a missing stream as actual -1 and an exact expectation as its number', () => {
      const error = new WrongExpectedVersionError(undefined, { streamName: 's-2', expected: 3n, current: NO_STREAM });
      expect((translated(error) as VersionConflictError).conflicts).toEqual([
        { streamName: 's-2', expected: '3', actual: -1n },
      ]);
    });

    it('translates the multi-stream append conflict (v2 StreamRevisionConflict details)', () => {
      const error = WrongExpectedVersionError.fromRevisionConflict({
        stream: 'multi-b',
        expectedRevision: '-1',
        actualRevision: '0',
      });
      expect((translated(error) as VersionConflictError).conflicts).toEqual([
        { streamName: 'multi-b', expected: 'no_stream', actual: 0n },
      ]);
    });

    it('names the expectation codes of a conflict built from gRPC metadata', () => {
      const raw = serviceError(9, 'Wrong expected version.', {
        exception: 'wrong-expected-version',
        'stream-name': 's-3',
        'expected-version': '-4',
        'actual-version': '7',
      });
      expect((translated(raw) as VersionConflictError).conflicts).toEqual([
        { streamName: 's-3', expected: 'stream_exists', actual: 7n },
      ]);
    });
  });

  describe('unavailable', () => {
    const notLeader = new NotLeaderError(
      serviceError(5, 'Leader info available', {
        exception: 'not-leader',
        'leader-endpoint-host': 'node-2',
        'leader-endpoint-port': '2113',
      }) as never,
    );

    it.each([
      ['UnavailableError', new UnavailableError()],
      ['DeadlineExceededError', new DeadlineExceededError()],
      ['TimeoutError', new TimeoutError()],
      ['NotLeaderError', notLeader],
      ['a raw gRPC UNAVAILABLE', serviceError(14, 'No connection established. Last error: connect ECONNREFUSED')],
      ['a raw gRPC DEADLINE_EXCEEDED', serviceError(4, 'Deadline exceeded')],
      ['a refused socket', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:2113'), { code: 'ECONNREFUSED' })],
      ['a failed cluster discovery', new Error('Failed to discover after 10 attempts.')],
    ])('turns %s into StoreUnavailableError, keeping it as the cause', (_label, error) => {
      const result = translated(error);
      expect(result).toBeInstanceOf(StoreUnavailableError);
      expect((result as StoreUnavailableError).message).toContain('during test');
      expect((result as StoreUnavailableError).cause).toBeInstanceOf(Error);
    });
  });

  describe('anything else', () => {
    it.each([
      ['a client error', new AccessDeniedError()],
      ['a plain error', new Error('boom')],
      ['a non-error', 'just a string'],
    ])('rethrows %s unchanged', (_label, error) => {
      expect(translated(error)).toBe(error);
    });

    it('rethrows a raw gRPC error as the client typed error it converts to', () => {
      const result = translated(serviceError(16, 'Unauthenticated'));
      expect(result).toBeInstanceOf(AccessDeniedError);
    });
  });
});

describe('isStreamNotFound', () => {
  it('recognises the client StreamNotFoundError and nothing else', () => {
    expect(isStreamNotFound(new StreamNotFoundError(undefined, 'missing'))).toBe(true);
    expect(isStreamNotFound(new UnavailableError())).toBe(false);
    expect(isStreamNotFound(new Error('missing not found'))).toBe(false);
    expect(isStreamNotFound(undefined)).toBe(false);
  });
});
