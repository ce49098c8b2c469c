import { applyDecorators } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { IsInt, IsString, Matches, Max, Min } from 'class-validator';
import { AMOUNT_MAX, ID_PATTERN } from '@ledger/domain';

// Each applies its decorators in the order they apply when stacked (bottom up), so a bad
// value's problems are listed in the order they always were.

/** An amount of credits (API.md: an integer, 1 ≤ n ≤ 10^12), in the OpenAPI schema and checked. */
export function AmountProperty(example: number): PropertyDecorator {
  return applyDecorators(
    Max(AMOUNT_MAX),
    Min(1),
    IsInt(),
    ApiProperty({ type: 'integer', minimum: 1, maximum: AMOUNT_MAX, example }),
  );
}

/** A caller-supplied id (API.md: `^[A-Za-z0-9._:-]{1,128}$`), in the OpenAPI schema and checked. */
export function IdProperty(example: string): PropertyDecorator {
  return applyDecorators(Matches(ID_PATTERN), IsString(), ApiProperty({ pattern: ID_PATTERN.source, example }));
}
