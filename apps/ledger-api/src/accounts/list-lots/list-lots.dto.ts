import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { LOT_STATUSES, type LotStatus } from '@ledger/projections';
import { PageQueryDto } from '../../queries/read-query.dto.js';

export class ListLotsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({
    enum: LOT_STATUSES,
    default: 'active',
    description: 'the lots of one status, in the spending order',
  })
  @IsOptional()
  @IsIn(LOT_STATUSES)
  status?: LotStatus;
}
