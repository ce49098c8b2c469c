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
import { Metadata } from '@grpc/grpc-js';
import {
  IncompatibleStoreError,
  InvalidAppendError,
  InvalidPositionError,
  StoreUnavailableError,
  VersionConflictError,
} from '../errors.js';
import { statusDetails, streamErrorsV2, errorsV2 } from '../testing/kurrentdb-double/protocol.js';
import { grpcCode, isStreamNotFound, translateKurrentError } from './kurrentdb-errors.js';
import { notLeaderDetails } from './kurrentdb-status.js';

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
      ['a client error', new StreamNotFoundError(undefined, 'x')],
      ['a plain error', new Error('boom')],
      ['a non-error', 'just a string'],
    ])('rethrows %s unchanged', (_label, error) => {
      expect(translated(error)).toBe(error);
    });
  });

  describe('what the server refuses for good', () => {
    it('makes access denied (a secured cluster, a user without $all) an IncompatibleStoreError that says why', () => {
      for (const error of [new AccessDeniedError(), serviceError(16, 'Unauthenticated')]) {
        const result = translated(error);
        expect(result).toBeInstanceOf(IncompatibleStoreError);
        expect((result as Error).message).toMatch(/read \$all.*\$ops or \$admins/);
      }
    });

    it('makes a read from a position that is no event an InvalidPositionError', () => {
      const error = serviceError(3, 'Trying to read from an invalid position.');
      expect(translated(error)).toBeInstanceOf(InvalidPositionError);
    });
  });
});

/** A v2 API error as the server builds it: status details with an ErrorInfo, then typed details. */
function v2Error(code: number, reason: string, typeName?: string, message?: { serializeBinary(): Uint8Array }): Error {
  const metadata = new Metadata();
  metadata.set(
    'grpc-status-details-bin',
    statusDetails(code, reason, reason, typeName ? { typeName, message: message! } : undefined),
  );
  return Object.assign(new Error(`${code} ${reason}`), { code, details: reason, metadata });
}

describe('v2 append errors the client does not translate', () => {
  function translatedAppend(error: unknown): unknown {
    try {
      translateKurrentError(error, 'append');
    } catch (thrown) {
      return thrown;
    }
    throw new Error('translateKurrentError returned');
  }

  it('makes ABORTED + StreamAlreadyInAppendSession (case-only different names) an InvalidAppendError, not a timeout', () => {
    const details = new streamErrorsV2.StreamAlreadyInAppendSessionErrorDetails();
    details.setStream('Account-1');
    const error = v2Error(
      10,
      'STREAM_ALREADY_IN_APPEND_SESSION',
      'kurrentdb.protocol.v2.streams.errors.StreamAlreadyInAppendSessionErrorDetails',
      details,
    );
    expect(translatedAppend(error)).toBeInstanceOf(InvalidAppendError);
  });

  it('makes a record or transaction too big an InvalidAppendError', () => {
    const record = new streamErrorsV2.AppendRecordSizeExceededErrorDetails();
    const transaction = new streamErrorsV2.AppendTransactionSizeExceededErrorDetails();
    expect(
      translatedAppend(
        v2Error(
          3,
          'APPEND_RECORD_SIZE_EXCEEDED',
          'kurrentdb.protocol.v2.streams.errors.AppendRecordSizeExceededErrorDetails',
          record,
        ),
      ),
    ).toBeInstanceOf(InvalidAppendError);
    expect(
      translatedAppend(
        v2Error(
          10,
          'APPEND_TRANSACTION_SIZE_EXCEEDED',
          'kurrentdb.protocol.v2.streams.errors.AppendTransactionSizeExceededErrorDetails',
          transaction,
        ),
      ),
    ).toBeInstanceOf(InvalidAppendError);
  });

  it('makes any other INVALID_ARGUMENT of an append an InvalidAppendError', () => {
    expect(translatedAppend(v2Error(3, 'BAD_REQUEST'))).toBeInstanceOf(InvalidAppendError);
  });

  it('makes FAILED_PRECONDITION + NotLeaderNodeErrorDetails a StoreUnavailableError and reads the leader', () => {
    const info = new errorsV2.NotLeaderNodeErrorDetails.NodeInfo();
    info.setHost('node-2');
    info.setPort(2113);
    const details = new errorsV2.NotLeaderNodeErrorDetails();
    details.setCurrentLeader(info);
    const error = v2Error(9, 'NOT_LEADER_NODE', 'kurrent.rpc.NotLeaderNodeErrorDetails', details);
    expect(translatedAppend(error)).toBeInstanceOf(StoreUnavailableError);
    expect(notLeaderDetails(error)).toEqual({ isNotLeader: true, leader: { host: 'node-2', port: 2113 } });
    expect(grpcCode(error)).toBe(9);
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
