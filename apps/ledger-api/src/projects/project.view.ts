import { integerOf, isoOf, optionalIntegerOf, optionalIsoOf } from '../queries/page.js';

/** A row of `projections.projects` as pg returns it (bigint columns as text, timestamps as Date). */
export interface ProjectRow {
  project_id: string;
  account_id: string;
  status: string;
  cost: string;
  credits_used: string | null;
  refunded: string;
  attempt: number;
  worker_id: string | null;
  lease_expires_at: Date | null;
  deadline_at: Date;
  kind: string | null;
  external_task_id: string | null;
  metadata: Record<string, unknown> | null;
  error_code: string | null;
  error_message: string | null;
  asset_url: string | null;
  preview_url: string | null;
  thumbnail_url: string | null;
  result_urls: string[] | null;
  created_at: Date;
  updated_at: Date;
  started_position: string;
  position: string;
}

export const PROJECT_COLUMNS = `project_id, account_id, status, cost, credits_used, refunded, attempt, worker_id,
  lease_expires_at, deadline_at, kind, external_task_id, metadata, error_code, error_message,
  asset_url, preview_url, thumbnail_url, result_urls, created_at, updated_at, started_position, position`;

export const PROJECT_DESCRIPTION =
  '`{projectId, accountId, status, cost, creditsUsed, refunded, attempt, workerId, leaseExpiresAt, deadlineAt, ' +
  'errorCode, errorMessage, assets: {assetUrl, previewUrl, thumbnailUrl, resultUrls} | null, kind, externalTaskId, ' +
  'metadata, createdAt, updatedAt, position}`';
export const PROJECT_LIST_DESCRIPTION = `page of projects, each ${PROJECT_DESCRIPTION}: \`{items, nextCursor}\``;

export const PROJECT_STATUSES = ['pending', 'processing', 'completed', 'failed'] as const;
export type ProjectStatusFilter = (typeof PROJECT_STATUSES)[number];

/** What `GET /v1/projects/{projectId}` and every project list answer, one shape for all. */
export function projectView(row: ProjectRow) {
  const hasAssets =
    row.asset_url !== null || row.preview_url !== null || row.thumbnail_url !== null || row.result_urls !== null;
  return {
    projectId: row.project_id,
    accountId: row.account_id,
    status: row.status,
    cost: integerOf(row.cost),
    creditsUsed: optionalIntegerOf(row.credits_used),
    refunded: integerOf(row.refunded),
    attempt: row.attempt,
    workerId: row.worker_id,
    leaseExpiresAt: optionalIsoOf(row.lease_expires_at),
    deadlineAt: isoOf(row.deadline_at),
    errorCode: row.error_code,
    errorMessage: row.error_message,
    assets: hasAssets
      ? {
          assetUrl: row.asset_url,
          previewUrl: row.preview_url,
          thumbnailUrl: row.thumbnail_url,
          resultUrls: row.result_urls,
        }
      : null,
    kind: row.kind,
    externalTaskId: row.external_task_id,
    metadata: row.metadata,
    createdAt: isoOf(row.created_at),
    updatedAt: isoOf(row.updated_at),
    position: integerOf(row.position),
  };
}

export type ProjectView = ReturnType<typeof projectView>;
