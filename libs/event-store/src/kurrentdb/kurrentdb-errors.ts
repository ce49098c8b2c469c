import { convertToCommandError, ErrorType, NO_STREAM, type WrongExpectedVersionError } from '@kurrent/kurrentdb-client';
import { StoreUnavailableError, VersionConflictError, type StreamConflict } from '../errors.js';

// Error types that mean "the server did not serve us", not "the request is wrong". A timed-out
// append may still have been written: StoreUnavailableError says exactly that. NOT_LEADER lands
// here because the client reconnects to the leader by itself, so a retry can succeed.
const UNAVAILABLE_TYPES = new Set<string>([
  ErrorType.UNAVAILABLE,
  ErrorType.DEADLINE_EXCEEDED,
  ErrorType.TIMEOUT,
  ErrorType.NOT_LEADER,
]);
const UNAVAILABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);
// Cluster discovery gives up with a plain Error that carries nothing but this message.
const DISCOVERY_FAILED = /^Failed to discover after \d+ attempts/;

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
  return convertToCommandError(error);
}

// The type tag rather than instanceof: it survives two copies of the client in node_modules.
function errorType(error: unknown): string | undefined {
  const type = (error as { type?: unknown } | null)?.type;
  return typeof type === 'string' ? type : undefined;
}

export function isStreamNotFound(error: unknown): boolean {
  return errorType(normalize(error)) === ErrorType.STREAM_NOT_FOUND;
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
  const normalized = normalize(error);
  if (errorType(normalized) === ErrorType.WRONG_EXPECTED_VERSION) {
    // KurrentDB reports the first failing stream only, even for a multi-stream append.
    throw new VersionConflictError([toStreamConflict(normalized as WrongExpectedVersionError)]);
  }
  if (isUnavailable(normalized)) {
    throw new StoreUnavailableError(`event store unavailable during ${operation}`, { cause: normalized });
  }
  throw normalized;
}
