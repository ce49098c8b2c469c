/**
 * Retries of what is safe to send again: 503 (a store down, a projection behind), 429
 * (rate limited) and network errors, for reads and for commands that carry an
 * `Idempotency-Key`; and, for such a command, 409 `request_in_flight` (the first request
 * with its key still runs on another replica: the retry gets that request's answer). The request is sent again as it was, so a command's key is the same
 * on every attempt and the service applies it once (API.md "Idempotency").
 */
export interface RetryOptions {
  /** Attempts in all, the first included (default 4). */
  attemptsMax?: number;
  /** The first wait's ceiling; each next one doubles (default 200 ms). */
  delayMsBase?: number;
  /** The ceiling of any wait, Retry-After included (default 10 s). */
  delayMsMax?: number;
  /** For tests: how to wait, and the jitter's source. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

const RETRYABLE_STATUSES = new Set([429, 503]);
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** A `fetch` that retries as above: bounded, with full jitter, honouring `Retry-After`. */
export function retryingFetch(options: RetryOptions = {}, fetchImpl: typeof fetch = globalThis.fetch): typeof fetch {
  const attemptsMax = options.attemptsMax ?? 4;
  const delayMsBase = options.delayMsBase ?? 200;
  const delayMsMax = options.delayMsMax ?? 10_000;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = options.random ?? Math.random;
  const backoffMs = (attempt: number) => Math.floor(random() * Math.min(delayMsMax, delayMsBase * 2 ** (attempt - 1)));

  return async (input, init) => {
    const request = new Request(input, init);
    const retryable = SAFE_METHODS.has(request.method) || request.headers.has('idempotency-key');
    for (let attempt = 1; ; attempt += 1) {
      const last = !retryable || attempt >= attemptsMax;
      let response: Response;
      try {
        response = await fetchImpl(request.clone());
      } catch (error) {
        if (last || request.signal.aborted) throw error;
        await sleep(backoffMs(attempt));
        continue;
      }
      if (last || !(RETRYABLE_STATUSES.has(response.status) || (await isInFlight(response)))) return response;
      await response.body?.cancel();
      const retryAfterMs = retryAfterMsOf(response.headers.get('retry-after'));
      await sleep(Math.min(delayMsMax, retryAfterMs ?? backoffMs(attempt)));
    }
  };
}

/** A 409 whose code is `request_in_flight` (read from a copy: the caller may still read the body). */
async function isInFlight(response: Response): Promise<boolean> {
  if (response.status !== 409) return false;
  try {
    const body = (await response.clone().json()) as { error?: { code?: unknown } } | null;
    return body?.error?.code === 'request_in_flight';
  } catch {
    return false;
  }
}

/** `Retry-After` as seconds or an HTTP date, in milliseconds from now; undefined when absent or unreadable. */
export function retryAfterMsOf(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
