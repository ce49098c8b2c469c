import { ApiProperty } from '@nestjs/swagger';
import { IsInt, IsString, Matches, Max, Min } from 'class-validator';
import { ID_PATTERN, LEASE_SECONDS_MAX } from '@ledger/domain';

export class ClaimProjectDto {
  @ApiProperty({ pattern: ID_PATTERN.source, example: 'worker-3' })
  @IsString()
  @Matches(ID_PATTERN)
  workerId!: string;

  @ApiProperty({ type: 'integer', minimum: 1, maximum: LEASE_SECONDS_MAX, example: 60 })
  @IsInt()
  @Min(1)
  @Max(LEASE_SECONDS_MAX)
  leaseSeconds!: number;
}
