import { ApiProperty } from '@nestjs/swagger';
import { IsInt, Max, Min } from 'class-validator';
import { LEASE_SECONDS_MAX } from '@ledger/domain';

export class HeartbeatProjectDto {
  @ApiProperty({ type: 'integer', minimum: 1, description: 'the attempt number the claim returned' })
  @IsInt()
  @Min(1)
  attempt!: number;

  @ApiProperty({ type: 'integer', minimum: 1, maximum: LEASE_SECONDS_MAX, example: 60 })
  @IsInt()
  @Min(1)
  @Max(LEASE_SECONDS_MAX)
  leaseSeconds!: number;
}
