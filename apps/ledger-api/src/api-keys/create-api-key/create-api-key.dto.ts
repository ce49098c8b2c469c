import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsInt,
  IsISO8601,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
} from 'class-validator';
import { API_KEY_NAME_PATTERN, RATE_PER_SECOND_MAX, SCOPES, type Scope } from '@ledger/domain';

export class CreateApiKeyDto {
  @ApiProperty({
    pattern: API_KEY_NAME_PATTERN.source,
    example: 'billing',
    description: 'who uses the key: shown in logs and the list; Idempotency-Keys are scoped by it',
  })
  @IsString()
  @Matches(API_KEY_NAME_PATTERN)
  name!: string;

  @ApiProperty({ enum: SCOPES, isArray: true, example: ['grant', 'read'] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(SCOPES.length)
  @IsIn(SCOPES, { each: true })
  scopes!: Scope[];

  @ApiPropertyOptional({ format: 'date-time', description: 'in the future; absent: the key never expires' })
  @IsOptional()
  @IsISO8601({ strict: true })
  expiresAt?: string;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: RATE_PER_SECOND_MAX,
    description: 'requests per second, per replica (burst: twice it); absent: LEDGER_RATE_LIMIT_PER_SECOND',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(RATE_PER_SECOND_MAX)
  ratePerSecond?: number;
}
