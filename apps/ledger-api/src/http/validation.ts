import { ValidationPipe, type ArgumentMetadata, type ValidationError } from '@nestjs/common';
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
  return new BodyValidationPipe({
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

/**
 * Nest validates a JSON `null` body as `{}` but hands the handler the `null` (with
 * `transform: false`), so a body of only optional fields let `null` through to code that
 * reads its fields (a 500, found by the hostile requests). A body that is JSON but not an
 * object (null, an array, a string, a number) is refused here, before validation.
 */
class BodyValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' && metadata.metatype !== undefined && metadata.metatype !== Object) {
      if (value !== undefined && (value === null || typeof value !== 'object' || Array.isArray(value))) {
        throw new ApiError(400, 'validation_failed', 'the request body must be a JSON object', [
          { field: 'body', problems: ['must be a JSON object'] },
        ]);
      }
    }
    return super.transform(value, metadata);
  }
}
