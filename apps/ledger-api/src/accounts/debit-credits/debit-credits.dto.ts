import { ApiProperty } from '@nestjs/swagger';
import { IsInt, IsString, Length, Max, Min } from 'class-validator';
import { AMOUNT_MAX, TEXT_LENGTH_MAX } from '@ledger/domain';

export class DebitCreditsDto {
  @ApiProperty({ type: 'integer', minimum: 1, maximum: AMOUNT_MAX, example: 20 })
  @IsInt()
  @Min(1)
  @Max(AMOUNT_MAX)
  amount!: number;

  @ApiProperty({ maxLength: TEXT_LENGTH_MAX, example: 'storage fee' })
  @IsString()
  @Length(1, TEXT_LENGTH_MAX)
  reason!: string;
}
