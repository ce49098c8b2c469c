import { applyDecorators } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiResponse } from '@nestjs/swagger';
import { ErrorResponses } from './error-responses.decorator.js';
import { answerDocs, type AnswerSchema } from './response-schemas.js';

/** OpenAPI for a POST command: its key header, its answer's schema and the error statuses of API.md. */
export function CommandDocs(summary: string, successStatus: number, errorStatuses: number[], answer?: AnswerSchema) {
  return applyDecorators(
    ApiOperation({ summary }),
    ApiBearerAuth(),
    ApiHeader({
      name: 'Idempotency-Key',
      required: true,
      description: '1–255 characters; a repeat returns the first response',
    }),
    ApiResponse({
      status: successStatus,
      description: 'accepted; the body carries `position`',
      ...answerDocs(answer),
    }),
    // 409 request_in_flight can answer any command: its key's first request still runs on another replica.
    ErrorResponses([400, 401, 403, 409, 422, ...errorStatuses, 429, 503], ERRORS),
  );
}

const ERRORS: Record<number, string> = {
  400: 'validation_failed',
  401: 'unauthenticated',
  402: 'insufficient_credits',
  403: 'forbidden',
  404: 'not_found',
  409: 'stale_attempt | invalid_transition | lease_held | already_exists | concurrency_conflict | request_in_flight (the first request with this Idempotency-Key still runs, on another replica; with Retry-After: retry with the same key to get its answer)',
  422: 'idempotency_key_reused | lots_limit_exceeded | balance_limit_exceeded',
  429: 'rate_limited, with Retry-After: retry with the same Idempotency-Key',
  503: 'unavailable (a store is down), with Retry-After: retry with the same Idempotency-Key',
};
