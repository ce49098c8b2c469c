import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { PageQueryDto } from '../../queries/read-query.dto.js';
import type { LedgerOrder } from '@ledger/projections';

const ORDERS: readonly LedgerOrder[] = ['desc', 'asc'];

export class ListLedgerEntriesQueryDto extends PageQueryDto {
  @ApiPropertyOptional({
    enum: ORDERS,
    default: 'desc',
    description: 'desc: newest first; asc: oldest first (to replay a balance from the start)',
  })
  @IsOptional()
  @IsIn(ORDERS)
  order?: LedgerOrder;
}
