import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Length } from 'class-validator';
import { TEXT_LENGTH_MAX } from '@ledger/domain';

export class RevokeApiKeyDto {
  @ApiPropertyOptional({ maxLength: TEXT_LENGTH_MAX, example: 'rotated' })
  @IsOptional()
  @IsString()
  @Length(1, TEXT_LENGTH_MAX)
  reason?: string;
}
