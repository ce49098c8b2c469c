import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { ApiError } from '../errors/api-error.js';

export interface FieldProblems {
  field: string;
  problems: string[];
}

/**
 * DTO validation for every body: unknown fields refused (ignored where a route
 * asks for it, as provider webhooks do), no implicit type conversion (a string
 * "5" is not an amount), every bad field named. The handler gets the body as
 * parsed JSON (`transform: false`), plain objects all the way down, which is
 * what the domain checks and stores in events.
 */
export function createValidationPipe({
  unknownFields = 'refuse',
}: { unknownFields?: 'refuse' | 'ignore' } = {}): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: unknownFields === 'refuse',
    transform: false,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => new ApiError(400, 'validation_failed', 'the request is invalid', flatten(errors)),
  });
}

function flatten(errors: readonly ValidationError[], prefix = ''): FieldProblems[] {
  return errors.flatMap((error) => {
    const field = prefix ? `${prefix}.${error.property}` : error.property;
    const own = error.constraints ? [{ field, problems: Object.values(error.constraints) }] : [];
    return [...own, ...flatten(error.children ?? [], field)];
  });
}
