import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import { responseSchema } from './response-schemas.js';

/** Error responses, each with the one error body of API.md: `{error: {code, message, details?, requestId?}}`. */
export function ErrorResponses(statuses: number[], descriptions: Record<number, string>) {
  return applyDecorators(
    ...[...new Set(statuses)].map((status) =>
      ApiResponse({ status, description: descriptions[status] ?? 'error', schema: responseSchema('ErrorBody') }),
    ),
  );
}
