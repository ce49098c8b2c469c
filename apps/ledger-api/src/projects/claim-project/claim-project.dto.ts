import { ApiProperty } from '@nestjs/swagger';
import { IsInt, Max, Min } from 'class-validator';
import { LEASE_SECONDS_MAX } from '@ledger/domain';
import { IdProperty } from '../../http/dto-properties.js';

export class ClaimProjectDto {
  @IdProperty('worker-3')
  workerId!: string;

  @ApiProperty({ type: 'integer', minimum: 1, maximum: LEASE_SECONDS_MAX, example: 60 })
  @IsInt()
  @Min(1)
  @Max(LEASE_SECONDS_MAX)
  leaseSeconds!: number;
}
