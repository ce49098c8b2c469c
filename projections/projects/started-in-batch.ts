import type { ProjectStarted } from '@ledger/domain';
import { valuesList, type RowChange, type SqlValue } from '../projection.js';
import { PROJECT_COLUMNS, PROJECT_COLUMN_TYPES, type ProjectColumn } from './projects.table.js';

/**
 * A project row as the events of one batch leave it, when the batch also holds its
 * start: each column's value as written (bigints as text, jsonb as JSON text).
 */
export type FreshProject = Record<ProjectColumn, SqlValue> & { refunded: number };

/** What a project's row holds before any event but its start sets it. */
const UNSET = {
  credits_used: null,
  refunded: 0,
  attempt: 0,
  worker_id: null,
  lease_expires_at: null,
  error_code: null,
  error_message: null,
  asset_url: null,
  preview_url: null,
  thumbnail_url: null,
  result_urls: null,
} as const satisfies Partial<FreshProject>;

export function started(
  projectId: string,
  { data, createdAt, position }: ProjectStarted & { createdAt: Date; position: bigint },
): FreshProject {
  return {
    ...UNSET,
    project_id: projectId,
    account_id: data.accountId,
    status: 'pending',
    cost: String(data.cost),
    deadline_at: data.deadlineAt,
    kind: data.kind ?? null,
    external_task_id: data.externalTaskId ?? null,
    metadata: data.metadata ?? null,
    created_at: createdAt,
    updated_at: createdAt,
    started_position: position.toString(),
    position: position.toString(),
  };
}

// Text columns take the values as they are; the others are cast from the VALUES' text.
const SELECTED = PROJECT_COLUMNS.map((c) =>
  PROJECT_COLUMN_TYPES[c] === 'text' ? `v.${c}` : `v.${c}::${PROJECT_COLUMN_TYPES[c]}`,
).join(', ');

/** All projects started in the batch, as they end it: one multi-row INSERT. */
export function insertFresh(table: string, rows: readonly FreshProject[]): RowChange {
  return {
    text: `INSERT INTO ${table} (${PROJECT_COLUMNS.join(', ')})
           SELECT ${SELECTED}
           FROM (VALUES ${valuesList(rows.length, PROJECT_COLUMNS.length)}) AS v(${PROJECT_COLUMNS.join(', ')})`,
    values: rows.flatMap((row) => PROJECT_COLUMNS.map((c) => row[c])),
    expectRows: rows.length,
  };
}
