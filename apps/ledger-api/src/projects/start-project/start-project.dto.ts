import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsObject, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import { DEADLINE_SECONDS_MAX, TEXT_LENGTH_MAX } from '@ledger/domain';
import { AmountProperty, IdProperty } from '../../http/dto-properties.js';

export class StartProjectDto {
  @IdProperty('prj-42')
  projectId!: string;

  @IdProperty('acc-7')
  accountId!: string;

  @AmountProperty(30)
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
