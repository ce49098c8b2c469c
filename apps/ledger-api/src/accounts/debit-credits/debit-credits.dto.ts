import { ApiProperty } from '@nestjs/swagger';
import { IsString, Length } from 'class-validator';
import { TEXT_LENGTH_MAX } from '@ledger/domain';
import { AmountProperty } from '../../http/dto-properties.js';

export class DebitCreditsDto {
  @AmountProperty(20)
  amount!: number;

  @ApiProperty({ maxLength: TEXT_LENGTH_MAX, example: 'storage fee' })
  @IsString()
  @Length(1, TEXT_LENGTH_MAX)
  reason!: string;
}
