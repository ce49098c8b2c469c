import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsOptional, IsString, Length, MaxLength } from 'class-validator';
import { ALL_OUTBOUND_EVENTS, OUTBOUND_EVENT_TYPES, TEXT_LENGTH_MAX, URL_LENGTH_MAX } from '@ledger/domain';

const SUBSCRIPTIONS = [ALL_OUTBOUND_EVENTS, ...OUTBOUND_EVENT_TYPES];

export class RegisterEndpointDto {
  @ApiProperty({ example: 'https://billing.example.com/ledger-events', maxLength: URL_LENGTH_MAX })
  @IsString()
  @MaxLength(URL_LENGTH_MAX)
  url!: string;

  @ApiProperty({ enum: SUBSCRIPTIONS, isArray: true, example: ['project.completed', 'balance.low'] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(SUBSCRIPTIONS.length)
  @IsIn(SUBSCRIPTIONS, { each: true })
  events!: string[];

  @ApiPropertyOptional({ maxLength: TEXT_LENGTH_MAX })
  @IsOptional()
  @IsString()
  @Length(1, TEXT_LENGTH_MAX)
  description?: string;
}

/** The body of commands that take none: `{}`. */
export class EmptyBodyDto {}
