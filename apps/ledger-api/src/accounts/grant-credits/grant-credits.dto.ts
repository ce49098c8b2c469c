import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsISO8601, IsOptional, IsString, Length, Matches, Max, Min } from 'class-validator';
import {
  GRANT_SOURCES,
  ID_PATTERN,
  LOT_CATEGORIES,
  LOT_PRIORITY_MAX,
  TEXT_LENGTH_MAX,
  type GrantSource,
  type LotCategory,
} from '@ledger/domain';
import { AmountProperty } from '../../http/dto-properties.js';

export class GrantCreditsDto {
  @AmountProperty(500)
  amount!: number;

  @ApiProperty({ enum: GRANT_SOURCES, example: 'purchase' })
  @IsIn(GRANT_SOURCES)
  source!: GrantSource;

  @ApiPropertyOptional({ maxLength: TEXT_LENGTH_MAX, example: 'order-8812' })
  @IsOptional()
  @IsString()
  @Length(1, TEXT_LENGTH_MAX)
  reference?: string;

  @ApiPropertyOptional({
    pattern: ID_PATTERN.source,
    example: 'invoice-8812',
    description: "The lot's id, unique within the account; absent: derived from the Idempotency-Key",
  })
  @IsOptional()
  @IsString()
  @Matches(ID_PATTERN)
  grantId?: string;

  @ApiPropertyOptional({ enum: LOT_CATEGORIES, description: 'absent: `promotional` for source `promo`, else `paid`' })
  @IsOptional()
  @IsIn(LOT_CATEGORIES)
  category?: LotCategory;

  @ApiPropertyOptional({
    format: 'date-time',
    example: '2031-01-01T00:00:00Z',
    description:
      'an instant with its zone (Z or an offset), in the future, at most 10 years ahead; absent: never expires',
  })
  @IsOptional()
  @IsISO8601({ strict: true })
  expiresAt?: string;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    maximum: LOT_PRIORITY_MAX,
    default: 50,
    description: 'lower is spent first',
  })
  @IsOptional()
  @Max(LOT_PRIORITY_MAX)
  @Min(0)
  @IsInt()
  priority?: number;
}
