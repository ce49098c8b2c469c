import type { ErrorBody } from './generated/types.gen.js';

/** The stable codes of API.md "Errors", as the served document lists them. */
export type LedgerErrorCode = ErrorBody['error']['code'];

/** A refusal of the service, by its code: `catch (e) { if (e instanceof LedgerError && e.code === 'insufficient_credits') … }`. */
export class LedgerError extends Error {
  override readonly name = 'LedgerError';

  constructor(
    readonly status: number,
    readonly code: LedgerErrorCode | 'network_error' | 'unexpected_response',
    message: string,
    readonly details?: unknown,
    /** The request's id in the service's logs, when the service gave one. */
    readonly requestId?: string,
  ) {
    super(message);
  }

  /** True for the codes a caller can wait out and send again (with the same Idempotency-Key). */
  get retryable(): boolean {
    return (
      this.status === 429 || this.status === 503 || this.code === 'network_error' || this.code === 'request_in_flight'
    );
  }
}

/** The generated SDK's result: the answer, or the error body with the response. */
export interface SdkResult<T> {
  data?: T;
  error?: unknown;
  response?: Response;
}

/** The answer of a call, or a `LedgerError` thrown with the error body's code. */
export async function unwrap<T>(call: Promise<SdkResult<T>>): Promise<T> {
  let result: SdkResult<T>;
  try {
    result = await call;
  } catch (error) {
    throw new LedgerError(0, 'network_error', `the ledger could not be reached: ${(error as Error).message}`);
  }
  if (result.response === undefined && result.error instanceof Error) {
    throw new LedgerError(0, 'network_error', `the ledger could not be reached: ${errorText(result.error)}`);
  }
  const status = result.response?.status ?? 0;
  // A 2xx without a body (a 202) answers undefined: every operation of the document that types its answer has one.
  if (result.error === undefined && status >= 200 && status < 300) return result.data as T;
  const body = (result.error ?? {}) as Partial<ErrorBody>;
  if (body.error && typeof body.error.code === 'string') {
    const { code, message, details, requestId } = body.error;
    throw new LedgerError(status, code, message, details, requestId);
  }
  throw new LedgerError(status, 'unexpected_response', `unexpected answer ${status}: ${JSON.stringify(result.error)}`);
}

function errorText(error: Error): string {
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
}
