import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Matches } from 'class-validator';
import { ID_PATTERN } from '@ledger/domain';
import { PROJECT_ROW_STATUSES, type ProjectRowStatus } from '@ledger/projections';
import { PageQueryDto } from '../../queries/read-query.dto.js';
import type { ProjectFilter } from './list-projects.query.js';

/** `GET /v1/accounts/{accountId}/projects`: an account's projects, optionally by status. */
export class AccountProjectsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: PROJECT_ROW_STATUSES })
  @IsOptional()
  @IsIn(PROJECT_ROW_STATUSES)
  status?: ProjectRowStatus;
}

/** `GET /v1/projects`: every project, by status, account, or missing its result asset. */
export class ListProjectsQueryDto extends AccountProjectsQueryDto {
  @ApiPropertyOptional({ pattern: ID_PATTERN.source })
  @IsOptional()
  @IsString()
  @Matches(ID_PATTERN)
  accountId?: string;

  @ApiPropertyOptional({
    enum: ['true', 'false'],
    description: 'true: only completed projects without `assets.assetUrl` (for repairs)',
  })
  @IsOptional()
  @IsIn(['true', 'false'])
  missingAssets?: 'true' | 'false';
}

export function projectFilterOf(query: ListProjectsQueryDto): ProjectFilter {
  return { accountId: query.accountId, status: query.status, missingAssets: query.missingAssets === 'true' };
}
