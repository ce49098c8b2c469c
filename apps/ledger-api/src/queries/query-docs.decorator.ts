import { applyDecorators } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse } from '@nestjs/swagger';
import { ErrorResponses } from '../http/error-responses.decorator.js';
import { answerDocs, type AnswerSchema } from '../http/response-schemas.js';

/** OpenAPI for a GET query (scope `read`): its summary, what it answers, and the error statuses of API.md. */
export function QueryDocs(summary: string, success: string, errorStatuses: number[] = [], answer?: AnswerSchema) {
  return applyDecorators(
    ApiOperation({ summary }),
    ApiBearerAuth(),
    ApiResponse({ status: 200, description: success, ...answerDocs(answer) }),
    ErrorResponses([400, 401, 403, ...errorStatuses, 429, 503], ERRORS),
  );
}

const ERRORS: Record<number, string> = {
  400: 'validation_failed (details name each bad query parameter)',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  429: 'rate_limited, with Retry-After',
  503: 'projection_behind (`minPosition` not reached within `waitMs`) | unavailable; with Retry-After',
};
