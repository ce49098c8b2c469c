import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Length } from 'class-validator';
import { GRANT_SOURCES, TEXT_LENGTH_MAX, type GrantSource } from '@ledger/domain';
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
}
