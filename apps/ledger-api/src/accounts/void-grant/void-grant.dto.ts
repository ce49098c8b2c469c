import { ApiProperty } from '@nestjs/swagger';
import { IsString, Length } from 'class-validator';
import { TEXT_LENGTH_MAX } from '@ledger/domain';

export class VoidGrantDto {
  @ApiProperty({ maxLength: TEXT_LENGTH_MAX, example: 'chargeback' })
  @IsString()
  @Length(1, TEXT_LENGTH_MAX)
  reason!: string;
}
