import { convertToCommandError, ErrorType, NO_STREAM, type WrongExpectedVersionError } from '@kurrent/kurrentdb-client';
import {
  IncompatibleStoreError,
  InvalidAppendError,
  InvalidPositionError,
  StoreUnavailableError,
  VersionConflictError,
  type StreamConflict,
} from '../errors.js';
import { statusDetailsOf } from './kurrentdb-status.js';

// Error types that mean "the server did not serve us", not "the request is wrong". A timed-out
// append may still have been written: StoreUnavailableError says exactly that. NOT_LEADER lands
// here because the client reconnects to the leader by itself, so a retry can succeed.
const UNAVAILABLE_TYPES = new Set<string>([
  ErrorType.UNAVAILABLE,
  ErrorType.DEADLINE_EXCEEDED,
  ErrorType.TIMEOUT,
  ErrorType.NOT_LEADER,
  // The server cancelled the call (shutdown, a dropped connection): the client reconnects.
  ErrorType.CANCELLED,
]);
const UNAVAILABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);
// Cluster discovery gives up with a plain Error that carries nothing but this message.
const DISCOVERY_FAILED = /^Failed to discover after \d+ attempts/;

// gRPC status codes the adapter reads itself (the client folds some of them into other types).
export const GRPC_ABORTED = 10;
export const GRPC_INVALID_ARGUMENT = 3;
export const GRPC_INTERNAL = 13;

// v2 append refusals of the request itself: retrying the same request cannot succeed.
const REFUSED_REQUEST_DETAILS = new Set([
  'kurrentdb.protocol.v2.streams.errors.StreamAlreadyInAppendSessionErrorDetails',
  'kurrentdb.protocol.v2.streams.errors.AppendRecordSizeExceededErrorDetails',
  'kurrentdb.protocol.v2.streams.errors.AppendTransactionSizeExceededErrorDetails',
]);
const NOT_LEADER_DETAILS = 'kurrent.rpc.NotLeaderNodeErrorDetails';
// The server's answer to a read of $all from a position that is not an event's (and the bridge's).
const INVALID_POSITION = /invalid position/i;

// The server's codes for the expectations in a WrongExpectedVersion built from gRPC metadata.
const EXPECTED_STATE_CODES = new Map<bigint, string>([
  [-1n, 'no_stream'],
  [-2n, 'any'],
  [-4n, 'stream_exists'],
]);

/**
 * Some client calls reject with a raw gRPC ServiceError (appendToStream and multiStreamAppend
 * reject the call stream's own errors unconverted), others with the client's typed errors.
 * Converting first lets everything below look at one shape.
 */
function normalize(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const candidate = error as Error & { code?: unknown; details?: unknown };
  // convertToCommandError reads `details` of anything with a numeric code; only hand it real ServiceErrors.
  if (typeof candidate.code !== 'number' || typeof candidate.details !== 'string') return error;
  try {
    return convertToCommandError(error);
  } catch {
    return error; // A shape the client's converter cannot read (no metadata): leave it as it is.
  }
}

// The type tag rather than instanceof: it survives two copies of the client in node_modules.
function errorType(error: unknown): string | undefined {
  const type = (error as { type?: unknown } | null)?.type;
  return typeof type === 'string' ? type : undefined;
}

export function isStreamNotFound(error: unknown): boolean {
  return errorType(normalize(error)) === ErrorType.STREAM_NOT_FOUND;
}

/** The gRPC status code of a raw ServiceError or of the client's error wrapping one. */
export function grpcCode(error: unknown): number | undefined {
  for (const candidate of [error, (error as { _raw?: unknown } | null)?._raw]) {
    const code = (candidate as { code?: unknown } | null)?.code;
    if (typeof code === 'number') return code;
  }
  return undefined;
}

export function isUnavailable(error: unknown): boolean {
  const normalized = normalize(error);
  const type = errorType(normalized);
  if (type !== undefined && UNAVAILABLE_TYPES.has(type)) return true;
  const code = (normalized as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && UNAVAILABLE_NODE_CODES.has(code)) return true;
  return normalized instanceof Error && DISCOVERY_FAILED.test(normalized.message);
}

export function toStreamConflict(error: WrongExpectedVersionError): StreamConflict {
  const expected = error.expectedState;
  return {
    streamName: error.streamName,
    expected: typeof expected === 'bigint' ? (EXPECTED_STATE_CODES.get(expected) ?? expected.toString()) : expected,
    actual: error.actualState === NO_STREAM ? -1n : error.actualState,
  };
}

/**
 * Rethrows the client's errors as ours: a failed expectation as VersionConflictError,
 * infrastructure failures as StoreUnavailableError, anything else unchanged (as the
 * client's typed error when it has one, so callers keep its details).
 */
export function translateKurrentError(error: unknown, operation: string): never {
  const details = statusDetailsOf(error).map((d) => d.typeName);
  if (details.some((d) => REFUSED_REQUEST_DETAILS.has(d))) {
    throw new InvalidAppendError(`KurrentDB refused the ${operation}: ${(error as Error).message}`);
  }
  // A follower refuses writes with FAILED_PRECONDITION + NotLeaderNodeErrorDetails, which client
  // 1.3.1 makes an UnknownError and does not reconnect on: the adapter reconnects, the caller retries.
  if (details.includes(NOT_LEADER_DETAILS)) {
    throw new StoreUnavailableError(`event store node is not the leader during ${operation}`, { cause: error });
  }
  if (operation !== 'append' && error instanceof Error && INVALID_POSITION.test(error.message)) {
    throw new InvalidPositionError(`no event at that position of the global log (${operation})`);
  }
  const normalized = normalize(error);
  if (errorType(normalized) === ErrorType.ACCESS_DENIED) {
    throw new IncompatibleStoreError(
      `the event store user may not ${operation === 'append' ? 'write these streams' : 'read $all'}: on a secured ` +
        "cluster the ledger's user needs to read $all (e.g. in the $ops or $admins group, or granted by $all's ACL)",
    );
  }
  // ABORTED is how the server says "timed out" (and, with details, "too big": handled above):
  // client 1.3.1 makes it an UnknownError when there are no details. The outcome is unknown.
  if (grpcCode(error) === GRPC_ABORTED) {
    throw new StoreUnavailableError(`event store aborted the ${operation} (timed out)`, { cause: error });
  }
  if (operation === 'append' && grpcCode(error) === GRPC_INVALID_ARGUMENT) {
    throw new InvalidAppendError(`KurrentDB refused the append: ${(error as Error).message}`);
  }
  if (errorType(normalized) === ErrorType.WRONG_EXPECTED_VERSION) {
    // KurrentDB reports the first failing stream only, even for a multi-stream append.
    throw new VersionConflictError([toStreamConflict(normalized as WrongExpectedVersionError)]);
  }
  if (isUnavailable(normalized)) {
    throw new StoreUnavailableError(`event store unavailable during ${operation}`, { cause: normalized });
  }
  throw normalized;
}
