import { ApiProperty } from '@nestjs/swagger';
import { IsISO8601 } from 'class-validator';
import { ReadQueryDto } from '../../queries/read-query.dto.js';

/** ISO 8601 with a time zone or `Z`, as the service writes instants. */
export const INSTANT_EXAMPLE = '2030-01-01T00:00:00.000Z';

export class GetBalanceAtQueryDto extends ReadQueryDto {
  @ApiProperty({ format: 'date-time', example: INSTANT_EXAMPLE, description: 'the instant (ISO 8601)' })
  @IsISO8601({ strict: true })
  at!: string;
}
