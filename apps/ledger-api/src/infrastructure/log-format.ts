import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import type { IncomingHttpHeaders } from 'node:http';
import type { TransportSingleOptions } from 'pino';

/**
 * Logs a person can read: pretty (pino-pretty) when stdout is a terminal, JSON lines
 * otherwise (a file, a pipe, a log collector). pino-pretty is a development
 * dependency: where it is not installed, the log stays JSON.
 */
export function prettyTransport(stdoutIsTerminal = process.stdout.isTTY === true): TransportSingleOptions | undefined {
  if (!stdoutIsTerminal || !prettyInstalled()) return undefined;
  return {
    target: 'pino-pretty',
    options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' },
  };
}

function prettyInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

/** What a caller may send as `X-Request-Id` to follow its request through our logs. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The id of a request: the caller's `X-Request-Id` when it is a plain id, else a new
 * UUID. Kept on the raw request so that Fastify and the request logger agree on it.
 */
export function requestIdOf(raw: { headers: IncomingHttpHeaders }): string {
  const kept = (raw as { id?: unknown }).id;
  if (typeof kept === 'string') return kept;
  const header = raw.headers['x-request-id'];
  const id = typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
  (raw as { id?: string }).id = id;
  return id;
}
