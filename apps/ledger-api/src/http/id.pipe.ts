import { Injectable, type ArgumentMetadata, type PipeTransform } from '@nestjs/common';
import { ID_PATTERN } from '@ledger/domain';
import { ApiError } from '../errors/api-error.js';

/** Path ids (`accountId`, `projectId`) follow the same pattern as ids in bodies. */
@Injectable()
export class IdPipe implements PipeTransform<string, string> {
  transform(value: string, metadata: ArgumentMetadata): string {
    if (typeof value !== 'string' || !ID_PATTERN.test(value)) {
      const field = metadata.data ?? 'id';
      throw new ApiError(400, 'validation_failed', `${field} must match ${ID_PATTERN.source}`, [
        { field, problems: [`must match ${ID_PATTERN.source}`] },
      ]);
    }
    return value;
  }
}
