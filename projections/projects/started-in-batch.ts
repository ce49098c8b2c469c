import type { StoredEvent } from '@ledger/event-store';
import { amountOf, optionalText, valuesList, type RowChange, type SqlValue } from '../projection.js';

/** A project row as the events of one batch leave it, when the batch also holds its start. */
export interface FreshProject {
  project_id: string;
  account_id: string;
  status: string;
  cost: string;
  credits_used: number | null;
  refunded: number;
  attempt: number;
  worker_id: string | null;
  lease_expires_at: string | null;
  deadline_at: string;
  kind: string | null;
  external_task_id: string | null;
  metadata: Record<string, unknown> | null;
  error_code: string | null;
  error_message: string | null;
  asset_url: string | null;
  preview_url: string | null;
  thumbnail_url: string | null;
  result_urls: string | null;
  created_at: Date;
  updated_at: Date;
  started_position: string;
  position: string;
}

const COLUMNS: (keyof FreshProject)[] = [
  'project_id',
  'account_id',
  'status',
  'cost',
  'credits_used',
  'refunded',
  'attempt',
  'worker_id',
  'lease_expires_at',
  'deadline_at',
  'kind',
  'external_task_id',
  'metadata',
  'error_code',
  'error_message',
  'asset_url',
  'preview_url',
  'thumbnail_url',
  'result_urls',
  'created_at',
  'updated_at',
  'started_position',
  'position',
];
const CASTS: Partial<Record<keyof FreshProject, string>> = {
  cost: 'bigint',
  credits_used: 'bigint',
  refunded: 'bigint',
  attempt: 'integer',
  lease_expires_at: 'timestamptz',
  deadline_at: 'timestamptz',
  metadata: 'jsonb',
  result_urls: 'jsonb',
  created_at: 'timestamptz',
  updated_at: 'timestamptz',
  started_position: 'bigint',
  position: 'bigint',
};

export function started(projectId: string, event: StoredEvent): FreshProject {
  const d = event.data;
  return {
    project_id: projectId,
    account_id: String(d.accountId),
    status: 'pending',
    cost: String(d.cost),
    credits_used: null,
    refunded: 0,
    attempt: 0,
    worker_id: null,
    lease_expires_at: null,
    deadline_at: String(d.deadlineAt),
    kind: optionalText(d.kind),
    external_task_id: optionalText(d.externalTaskId),
    metadata: d.metadata === undefined ? null : (d.metadata as Record<string, unknown>),
    error_code: null,
    error_message: null,
    asset_url: null,
    preview_url: null,
    thumbnail_url: null,
    result_urls: null,
    created_at: event.createdAt,
    updated_at: event.createdAt,
    started_position: event.position.toString(),
    position: event.position.toString(),
  };
}

/** The same changes `mapEvent` makes with SQL, made to a row still in memory. */
export function evolveFresh(
  row: FreshProject,
  event: StoredEvent,
  assets: (value: unknown) => (string | null)[],
): void {
  const d = event.data;
  switch (event.type) {
    case 'ProjectClaimed':
      Object.assign(row, { status: 'processing', attempt: Number(d.attempt), worker_id: String(d.workerId) });
      row.lease_expires_at = String(d.leaseExpiresAt);
      break;
    case 'LeaseExtended':
      row.lease_expires_at = String(d.leaseExpiresAt);
      break;
    case 'ProjectCompleted':
      Object.assign(row, { status: 'completed', credits_used: Number(d.creditsUsed) });
      setAssets(row, assets(d.assets));
      break;
    case 'ProjectAssetsAttached':
      setAssets(row, assets(d.assets));
      break;
    case 'ProjectFailed':
      Object.assign(row, { status: 'failed', error_code: String(d.code), error_message: String(d.errorMessage) });
      break;
    case 'Refunded':
      row.refunded += Number(amountOf(event));
      break;
    default:
      return;
  }
  row.updated_at = event.createdAt;
  row.position = event.position.toString();
}

function setAssets(row: FreshProject, [asset_url, preview_url, thumbnail_url, result_urls]: (string | null)[]): void {
  Object.assign(row, { asset_url, preview_url, thumbnail_url, result_urls });
}

/** All projects started in the batch, as they end it: one multi-row INSERT. */
export function insertFresh(table: string, rows: readonly FreshProject[]): RowChange {
  return {
    text: `INSERT INTO ${table} (${COLUMNS.join(', ')})
           SELECT ${COLUMNS.map((c) => (CASTS[c] ? `v.${c}::${CASTS[c]}` : `v.${c}`)).join(', ')}
           FROM (VALUES ${valuesList(rows.length, COLUMNS.length)}) AS v(${COLUMNS.join(', ')})`,
    values: rows.flatMap((row) => COLUMNS.map((c) => row[c] as SqlValue)),
    expectRows: rows.length,
  };
}
