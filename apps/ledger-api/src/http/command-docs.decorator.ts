import { applyDecorators } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiResponse } from '@nestjs/swagger';

/** OpenAPI for a POST command: its key header, success status and the error statuses of API.md. */
export function CommandDocs(summary: string, successStatus: number, errorStatuses: number[]) {
  return applyDecorators(
    ApiOperation({ summary }),
    ApiBearerAuth(),
    ApiHeader({
      name: 'Idempotency-Key',
      required: true,
      description: '1–255 characters; a repeat returns the first response',
    }),
    ApiResponse({ status: successStatus, description: 'accepted; the body carries `position`' }),
    ...[400, 401, 403, 422, ...errorStatuses].map((status) => ApiResponse({ status, description: ERRORS[status] })),
  );
}

const ERRORS: Record<number, string> = {
  400: 'validation_failed',
  401: 'unauthenticated',
  402: 'insufficient_credits',
  403: 'forbidden',
  404: 'not_found',
  409: 'stale_attempt | invalid_transition | lease_held | already_exists | concurrency_conflict',
  422: 'idempotency_key_reused | lots_limit_exceeded | balance_limit_exceeded',
};
