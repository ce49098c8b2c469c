import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { PagingDto } from '../../queries/read-query.dto.js';
import { KEPT_STATUSES, type KeptStatus } from '../unmatched-webhooks.js';

/** `GET /v1/webhooks/unmatched`: a list like the others, of a table that is no projection (no `minPosition`). */
export class ListUnmatchedQueryDto extends PagingDto {
  @ApiPropertyOptional({
    enum: KEPT_STATUSES,
    description: 'kept (waiting for its project), applied, or expired; omitted: those not applied (kept and expired)',
  })
  @IsOptional()
  @IsIn(KEPT_STATUSES)
  status?: KeptStatus;
}
