import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsObject, IsOptional, IsString, Length, Matches, Max, Min } from 'class-validator';
import { AMOUNT_MAX, DEADLINE_SECONDS_MAX, ID_PATTERN, TEXT_LENGTH_MAX } from '@ledger/domain';

export class StartProjectDto {
  @ApiProperty({ pattern: ID_PATTERN.source, example: 'prj-42' })
  @IsString()
  @Matches(ID_PATTERN)
  projectId!: string;

  @ApiProperty({ pattern: ID_PATTERN.source, example: 'acc-7' })
  @IsString()
  @Matches(ID_PATTERN)
  accountId!: string;

  @ApiProperty({ type: 'integer', minimum: 1, maximum: AMOUNT_MAX, example: 30 })
  @IsInt()
  @Min(1)
  @Max(AMOUNT_MAX)
  cost!: number;

  @ApiPropertyOptional({ maxLength: TEXT_LENGTH_MAX, example: 'video' })
  @IsOptional()
  @IsString()
  @Length(1, TEXT_LENGTH_MAX)
  kind?: string;

  @ApiPropertyOptional({ maxLength: TEXT_LENGTH_MAX, description: "the generation provider's task id" })
  @IsOptional()
  @IsString()
  @Length(1, TEXT_LENGTH_MAX)
  externalTaskId?: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: DEADLINE_SECONDS_MAX })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(DEADLINE_SECONDS_MAX)
  deadlineSeconds?: number;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description: 'caller annotations, at most 16 KiB',
  })
  @IsOptional()
  @IsObject()
  metadata?: Record<string, unknown>;
}
