import { ApiProperty } from '@nestjs/swagger';
import { IsISO8601 } from 'class-validator';
import { ReadQueryDto } from '../../queries/read-query.dto.js';

export class GetStatementQueryDto extends ReadQueryDto {
  @ApiProperty({ format: 'date-time', description: 'the start of the period (ISO 8601), included' })
  @IsISO8601({ strict: true })
  from!: string;

  @ApiProperty({ format: 'date-time', description: 'the end of the period (ISO 8601), included; not before `from`' })
  @IsISO8601({ strict: true })
  to!: string;
}
