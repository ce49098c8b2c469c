import { StoreUnavailableError } from '../errors.js';

// SQLSTATE classes that mean "the server can't serve us now", not "the request is wrong":
// 08 connection exception, 53 insufficient resources, 57 operator intervention (shutdown).
const UNAVAILABLE_CLASSES = ['08', '53', '57'];
const UNAVAILABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

interface PgLikeError {
  code?: string;
  message?: string;
  constraint?: string;
  detail?: string;
}

export function pgErrorCode(error: unknown): string | undefined {
  return (error as PgLikeError | null)?.code;
}

export function isUnavailable(error: unknown): boolean {
  const code = pgErrorCode(error);
  if (code !== undefined && (UNAVAILABLE_NODE_CODES.has(code) || UNAVAILABLE_CLASSES.includes(code.slice(0, 2)))) {
    return true;
  }
  const message = (error as PgLikeError | null)?.message ?? '';
  // node-postgres reports a dropped socket, a pool timeout, a pool shut down
  // (requests still in flight while the service stops) and its own query timeout
  // (a server that stopped answering) only in the message.
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Cannot use a pool after calling end|Query read timeout/i.test(
    message,
  );
}

/** Rethrows infrastructure failures as our own type; anything else unchanged. */
export function translatePgError(error: unknown, operation: string): never {
  if (isUnavailable(error)) {
    throw new StoreUnavailableError(`event store unavailable during ${operation}`, { cause: error });
  }
  throw error;
}
