import { randomUUID } from 'node:crypto';
import { createClient, createConfig, type Client } from './generated/client/index.js';
import { ReadYourWrites } from './read-your-writes.js';
import { retryingFetch, type RetryOptions } from './retry.js';

export * from './generated/sdk.gen.js';
export type * from './generated/types.gen.js';
export type { Client } from './generated/client/index.js';
export { LedgerError, unwrap, type LedgerErrorCode, type SdkResult } from './errors.js';
export { ReadYourWrites } from './read-your-writes.js';
export { retryAfterMsOf, retryingFetch, type RetryOptions } from './retry.js';

export interface LedgerClientOptions {
  /** e.g. `http://localhost:3000` */
  baseUrl: string;
  /** An API key (`Authorization: Bearer …`). */
  apiKey?: string;
  retry?: RetryOptions;
  /** The fetch underneath the retries (default: the global one). */
  fetch?: typeof fetch;
  /**
   * Track the positions of command answers and pass the highest as `minPosition` to
   * every later query that names none (one session's read-your-writes).
   */
  readYourWrites?: ReadYourWrites;
}

/** A client of the generated SDK: pass it as `client` to `accountsGrant({ client, … })` and the others. */
export function createLedgerClient(options: LedgerClientOptions): Client {
  const client = createClient(
    createConfig({
      baseUrl: options.baseUrl.replace(/\/+$/, ''),
      fetch: retryingFetch(options.retry, options.fetch),
      ...(options.apiKey ? { headers: { authorization: `Bearer ${options.apiKey}` } } : {}),
    }),
  );
  const session = options.readYourWrites;
  if (session) {
    client.interceptors.request.use((request) => {
      const url = new URL(request.url);
      const { minPosition } = session.query();
      if (request.method !== 'GET' || minPosition === undefined || url.searchParams.has('minPosition')) {
        return request;
      }
      url.searchParams.set('minPosition', String(minPosition));
      return new Request(url, request);
    });
    client.interceptors.response.use(async (response, request) => {
      const json = response.headers.get('content-type')?.includes('application/json') ?? false;
      if (request.method === 'POST' && response.ok && json) session.observe(await response.clone().json());
      return response;
    });
  }
  return client;
}

/** A fresh Idempotency-Key for a command: keep it for the command's retries, by hand or by the client. */
export function newIdempotencyKey(): string {
  return randomUUID();
}
