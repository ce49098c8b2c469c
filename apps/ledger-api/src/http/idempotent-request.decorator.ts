import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { ApiError } from '../errors/api-error.js';
import type { AuthenticatedRequest } from '../auth/api-key.guard.js';
import { requestHash, type CommandContext } from '../commands/idempotency.js';

const IDEMPOTENCY_KEY_LENGTH_MAX = 255;
const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The caller, its Idempotency-Key (required on every POST command, 1–255
 * characters) and the request's hash, as the command executor needs them.
 */
export const IdempotentRequest = createParamDecorator((_: unknown, context: ExecutionContext): CommandContext => {
  const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
  const header = request.headers['idempotency-key'];
  const key = Array.isArray(header) ? header[0] : header;
  if (!key || key.length > IDEMPOTENCY_KEY_LENGTH_MAX) {
    throw new ApiError(400, 'validation_failed', 'the Idempotency-Key header is required (1 to 255 characters)', [
      { field: 'Idempotency-Key', problems: [`must be 1 to ${IDEMPOTENCY_KEY_LENGTH_MAX} characters`] },
    ]);
  }
  const correlation = request.headers['x-correlation-id'];
  const path = request.url.split('?')[0] ?? request.url;
  return {
    caller: request.apiKey!.name,
    idempotencyKey: key,
    requestHash: requestHash(request.method, path, request.body),
    correlationId:
      typeof correlation === 'string' && CORRELATION_ID.test(correlation) ? correlation : String(request.id),
    requestId: String(request.id),
  };
});
