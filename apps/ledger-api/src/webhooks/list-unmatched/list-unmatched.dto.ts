import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import { PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX } from '../../queries/page.js';
import { IsCursor, IsIntegerText } from '../../queries/read-query.dto.js';

/** `GET /v1/webhooks/unmatched`: a list like the others, of a table that is no projection (no `minPosition`). */
export class ListUnmatchedQueryDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: PAGE_LIMIT_MAX, default: PAGE_LIMIT_DEFAULT })
  @IsOptional()
  @IsIntegerText(1, PAGE_LIMIT_MAX)
  limit?: string;

  @ApiPropertyOptional({ description: "the previous page's `nextCursor`; omit for the first page" })
  @IsOptional()
  @IsCursor()
  cursor?: string;
}
