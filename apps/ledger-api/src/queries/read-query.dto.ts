import assert from 'node:assert';
import { ApiPropertyOptional, IntersectionType } from '@nestjs/swagger';
import { IsOptional, ValidateBy, buildMessage, type ValidationOptions } from 'class-validator';
import { WAIT_MS_DEFAULT, WAIT_MS_MAX } from '../projections/projection-progress.js';
import { PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX, decodeCursor, type PageRequest } from './page.js';

/**
 * Query strings arrive as text, and the global validation pipe converts
 * nothing (`transform: false`), so these DTOs check the text and the
 * `…Of` functions below parse what passed.
 */
const INTEGER_TEXT = /^\d{1,16}$/;

function integerTextIn(value: unknown, min: number, max: number): boolean {
  if (typeof value !== 'string' || !INTEGER_TEXT.test(value)) return false;
  const n = Number(value);
  return Number.isSafeInteger(n) && n >= min && n <= max;
}

/** A decimal integer from `min` to `max`, as query text. */
export function IsIntegerText(min: number, max: number, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isIntegerText',
      constraints: [min, max],
      validator: {
        validate: (value: unknown) => integerTextIn(value, min, max),
        defaultMessage: buildMessage((each) => `${each}$property must be an integer from ${min} to ${max}`, options),
      },
    },
    options,
  );
}

/** A cursor from a previous page's `nextCursor`. */
export function IsCursor(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isCursor',
      validator: {
        validate: (value: unknown) => typeof value === 'string' && decodeCursor(value) !== undefined,
        defaultMessage: buildMessage(
          (each) => `${each}$property must be the nextCursor of a previous page, unchanged`,
          options,
        ),
      },
    },
    options,
  );
}

/** What every query accepts: read-your-writes (API.md "Conventions"). */
export class ReadQueryDto {
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    description: "a command's `position`: wait until the read models include it",
  })
  @IsOptional()
  @IsIntegerText(0, Number.MAX_SAFE_INTEGER)
  minPosition?: string;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    maximum: WAIT_MS_MAX,
    default: WAIT_MS_DEFAULT,
    description: 'how long to wait for `minPosition` before 503 `projection_behind`',
  })
  @IsOptional()
  @IsIntegerText(0, WAIT_MS_MAX)
  waitMs?: string;
}

/** Cursor pagination (API.md "Lists"), for any list. */
export class PagingDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: PAGE_LIMIT_MAX, default: PAGE_LIMIT_DEFAULT })
  @IsOptional()
  @IsIntegerText(1, PAGE_LIMIT_MAX)
  limit?: string;

  @ApiPropertyOptional({ description: "the previous page's `nextCursor`; omit for the first page" })
  @IsOptional()
  @IsCursor()
  cursor?: string;
}

/** A list of a read model: paged, and as fresh as the caller asks. */
export class PageQueryDto extends IntersectionType(ReadQueryDto, PagingDto) {}

/** How fresh a read must be: the position the read models must have reached, and how long to wait for it. */
export interface Consistency {
  minPosition: bigint | undefined;
  waitMs: number;
}

export function consistencyOf(query: ReadQueryDto): Consistency {
  return {
    minPosition: query.minPosition === undefined ? undefined : BigInt(query.minPosition),
    waitMs: query.waitMs === undefined ? WAIT_MS_DEFAULT : Number(query.waitMs),
  };
}

export function pageRequestOf(query: PageQueryDto): PageRequest {
  const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  assert(query.cursor === undefined || after !== undefined, 'a cursor that passed validation decodes');
  return { limit: query.limit === undefined ? PAGE_LIMIT_DEFAULT : Number(query.limit), after };
}
