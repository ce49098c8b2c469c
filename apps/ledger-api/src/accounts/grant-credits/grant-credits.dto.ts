import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import { AMOUNT_MAX, GRANT_SOURCES, TEXT_LENGTH_MAX, type GrantSource } from '@ledger/domain';

export class GrantCreditsDto {
  @ApiProperty({ type: 'integer', minimum: 1, maximum: AMOUNT_MAX, example: 500 })
  @IsInt()
  @Min(1)
  @Max(AMOUNT_MAX)
  amount!: number;

  @ApiProperty({ enum: GRANT_SOURCES, example: 'purchase' })
  @IsIn(GRANT_SOURCES)
  source!: GrantSource;

  @ApiPropertyOptional({ maxLength: TEXT_LENGTH_MAX, example: 'order-8812' })
  @IsOptional()
  @IsString()
  @Length(1, TEXT_LENGTH_MAX)
  reference?: string;
}
