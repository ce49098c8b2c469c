import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RuleViolation, type RuleViolationCode } from '@ledger/domain';
import {
  IncompatibleStoreError,
  InvalidAppendError,
  InvalidPositionError,
  isPostgresUnavailable,
  StoreUnavailableError,
  VersionConflictError,
} from '@ledger/event-store';
import { ApiError } from './api-error.js';
import { RecordedRefusal } from '../commands/refusals.js';
import { ledgerMetrics } from '../metrics/metrics.js';

const HTTP_CODES: Record<number, string> = {
  400: 'validation_failed',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'too_many_requests',
};
const RETRY_AFTER_SECONDS = '2';

/** Rule violations of the domain, by the HTTP status API.md gives each. */
const RULE_STATUS: Record<RuleViolationCode, number> = {
  validation_failed: 400,
  insufficient_credits: 402,
  not_found: 404,
  stale_attempt: 409,
  invalid_transition: 409,
  lease_held: 409,
  already_exists: 409,
  balance_limit_exceeded: 422,
  lots_limit_exceeded: 422,
};

// A type, not an interface, so that it is a record: a refusal's body is kept as one.
type ErrorBody = {
  error: { code: string; message: string; details?: unknown; requestId?: string };
};

/** The one place where errors become HTTP: `{"error": {"code", "message", "details"}}`. */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('ApiExceptionFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const requestId = http.getRequest<FastifyRequest | undefined>()?.id;
    const { status, body, headers } = this.toResponse(exception, typeof requestId === 'string' ? requestId : undefined);
    ledgerMetrics.httpErrors.inc({ status: String(status), code: body.error.code });
    void reply.status(status).headers(headers).send(body);
  }

  /**
   * The answer to an error, with the id of the request it answers (an additive field of
   * the error body). A repeat of a refused command answers the body kept the first time,
   * the first request's id included.
   */
  toResponse(
    exception: unknown,
    requestId?: string,
  ): { status: number; body: ErrorBody; headers: Record<string, string> } {
    if (exception instanceof RecordedRefusal) {
      return { status: exception.answer.status, body: exception.answer.body as ErrorBody, headers: {} };
    }
    const response = this.responseOf(exception);
    if (requestId !== undefined) response.body = { error: { ...response.body.error, requestId } };
    return response;
  }

  private responseOf(exception: unknown): { status: number; body: ErrorBody; headers: Record<string, string> } {
    if (exception instanceof ApiError) {
      return {
        status: exception.status,
        body: errorBody(exception.code, exception.message, exception.details),
        headers: exception.headers,
      };
    }
    if (exception instanceof RuleViolation) {
      const details = exception.code === 'validation_failed' ? fieldProblems(exception.details) : exception.details;
      return {
        status: RULE_STATUS[exception.code],
        body: errorBody(exception.code, exception.message, details),
        headers: {},
      };
    }
    if (exception instanceof InvalidAppendError) {
      return { status: 400, body: errorBody('validation_failed', exception.message), headers: {} };
    }
    // A position the log does not hold (KurrentDB positions are log offsets, not every number is one).
    if (exception instanceof InvalidPositionError) {
      return { status: 400, body: errorBody('validation_failed', exception.message), headers: {} };
    }
    if (exception instanceof VersionConflictError) {
      return {
        status: 409,
        body: errorBody('concurrency_conflict', 'a stream changed concurrently; retry'),
        headers: {},
      };
    }
    // PostgreSQL gone from under any table of the service (refusals, read models, outbound), not
    // only the event store's: the same 503, never a 500 (test/faults/database-faults.e2e-spec.ts).
    if (
      exception instanceof StoreUnavailableError ||
      exception instanceof IncompatibleStoreError ||
      isPostgresUnavailable(exception)
    ) {
      return {
        status: 503,
        body: errorBody('unavailable', 'a store is unavailable; retry later'),
        headers: { 'retry-after': RETRY_AFTER_SECONDS },
      };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const code = HTTP_CODES[status] ?? (status >= 500 ? 'internal_error' : 'bad_request');
      return { status, body: errorBody(code, exception.message), headers: {} };
    }
    // Fastify's own errors (malformed JSON, body too large) carry a statusCode.
    const statusCode = (exception as { statusCode?: number } | null)?.statusCode;
    if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
      return {
        status: statusCode,
        body: errorBody(HTTP_CODES[statusCode] ?? 'bad_request', (exception as Error).message),
        headers: {},
      };
    }
    this.logger.error({ err: exception }, 'unhandled error');
    return { status: 500, body: errorBody('internal_error', 'internal error'), headers: {} };
  }
}

/** The domain's `{fields: [{field, message}]}` in the shape the HTTP layer uses: `[{field, problems}]`. */
function fieldProblems(details: unknown): unknown {
  const fields = (details as { fields?: { field: string; message: string }[] } | undefined)?.fields;
  return fields ? fields.map(({ field, message }) => ({ field, problems: [message] })) : details;
}

function errorBody(code: string, message: string, details?: unknown): ErrorBody {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}
