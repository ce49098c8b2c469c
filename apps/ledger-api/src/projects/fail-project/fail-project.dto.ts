import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, IsString, Length, Matches, Min } from 'class-validator';
import { CODE_PATTERN, ERROR_MESSAGE_LENGTH_MAX } from '@ledger/domain';

export class FailProjectDto {
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    description: "the worker's attempt; omit to cancel as the owner",
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  attempt?: number;

  @ApiProperty({ maxLength: ERROR_MESSAGE_LENGTH_MAX, example: 'provider timed out' })
  @IsString()
  @Length(1, ERROR_MESSAGE_LENGTH_MAX)
  errorMessage!: string;

  @ApiPropertyOptional({ pattern: CODE_PATTERN.source, example: 'provider_timeout' })
  @IsOptional()
  @IsString()
  @Matches(CODE_PATTERN)
  code?: string;
}
