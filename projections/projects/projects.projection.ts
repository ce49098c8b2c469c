import type { StoredEvent } from '@ledger/event-store';
import { accountIdOf, amountOf, optionalText, projectIdOf, type Projection, type RowChange } from '../projection.js';
import { evolveFresh, insertFresh, started, type FreshProject } from './started-in-batch.js';

interface Assets {
  assetUrl?: string;
  previewUrl?: string;
  thumbnailUrl?: string;
  resultUrls?: string[];
}

/** Every project's status, money, attempt, lease, error and result assets. */
export const projectsProjection: Projection = {
  name: 'projects',
  tables: ['projects'],
  createTables: (schema) => `
CREATE TABLE ${schema}.projects (
  project_id text PRIMARY KEY,
  account_id text NOT NULL,
  status text NOT NULL,
  cost bigint NOT NULL,
  credits_used bigint,
  refunded bigint NOT NULL DEFAULT 0,
  attempt integer NOT NULL DEFAULT 0,
  worker_id text,
  lease_expires_at timestamptz,
  deadline_at timestamptz NOT NULL,
  kind text,
  external_task_id text,
  metadata jsonb,
  error_code text,
  error_message text,
  asset_url text,
  preview_url text,
  thumbnail_url text,
  result_urls jsonb,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  -- Position of ProjectStarted: a unique, increasing key for newest-first pages.
  started_position bigint NOT NULL UNIQUE,
  position bigint NOT NULL
);
CREATE INDEX ON ${schema}.projects (account_id, started_position DESC);
CREATE INDEX ON ${schema}.projects (status, started_position DESC);
CREATE INDEX ON ${schema}.projects (external_task_id) WHERE external_task_id IS NOT NULL;
${projectsDueIndexes(schema)}`,
  // A project started in the same batch (catch-up, rebuild) is folded in memory and
  // inserted as it ends the batch, all of them in one statement; others change row by row.
  map(events: readonly StoredEvent[], schema: string): RowChange[] {
    const table = `${schema}.projects`;
    const fresh = new Map<string, FreshProject>();
    const changes: RowChange[] = [];
    for (const event of events) {
      const projectId = event.type === 'Refunded' ? optionalText(event.data.projectId) : projectIdOf(event.streamName);
      const row = projectId === null || projectId === undefined ? undefined : fresh.get(projectId);
      if (row && (event.type !== 'Refunded' || accountIdOf(event.streamName))) evolveFresh(row, event, assetValues);
      else if (event.type === 'ProjectStarted' && projectId) fresh.set(projectId, started(projectId, event));
      else changes.push(...mapEvent(event, table));
    }
    return fresh.size > 0 ? [insertFresh(table, [...fresh.values()]), ...changes] : changes;
  },
};

/** One event's row changes: a project changes row by row, each update asserted to hit its one row. */
function mapEvent(event: StoredEvent, table: string): RowChange[] {
  if (event.type === 'Refunded') return refund(event, table);
  const projectId = projectIdOf(event.streamName);
  if (!projectId) return [];
  const at = event.createdAt;
  const position = event.position.toString();
  const d = event.data;
  const update = (set: string, values: readonly (string | number | null | Date | string[])[]): RowChange[] => [
    {
      text: `UPDATE ${table} SET ${set}, updated_at = $2, position = $3 WHERE project_id = $1`,
      values: [projectId, at, position, ...values],
      expectRows: 1,
    },
  ];
  switch (event.type) {
    case 'ProjectStarted':
      return [
        {
          text: `INSERT INTO ${table} (project_id, account_id, status, cost, deadline_at, kind, external_task_id, metadata,
                     created_at, updated_at, started_position, position)
                   VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8, $8, $9, $9)`,
          values: [
            projectId,
            String(d.accountId),
            String(d.cost),
            String(d.deadlineAt),
            optionalText(d.kind),
            optionalText(d.externalTaskId),
            d.metadata === undefined ? null : (d.metadata as Record<string, unknown>),
            at,
            position,
          ],
          expectRows: 1,
        },
      ];
    case 'ProjectClaimed':
      return update(`status = 'processing', attempt = $4, worker_id = $5, lease_expires_at = $6`, [
        Number(d.attempt),
        String(d.workerId),
        String(d.leaseExpiresAt),
      ]);
    case 'LeaseExtended':
      return update('lease_expires_at = $4', [String(d.leaseExpiresAt)]);
    case 'ProjectCompleted':
      return update(`status = 'completed', credits_used = $4, ${assetColumns(5)}`, [
        Number(d.creditsUsed),
        ...assetValues(d.assets),
      ]);
    // The event holds the project's whole set of assets, so every column is set, absent ones to null.
    case 'ProjectAssetsAttached':
      return update(assetColumns(4), assetValues(d.assets));
    case 'ProjectFailed':
      return update(`status = 'failed', error_code = $4, error_message = $5`, [String(d.code), String(d.errorMessage)]);
    default:
      return [];
  }
}

/**
 * The watchdog's search for projects to fail: only projects in flight are indexed, by
 * deadline and by lease, so a sweep reads the few that are due, however many have ended.
 * `IF NOT EXISTS`: the same statements add them to tables created before they existed.
 */
export function projectsDueIndexes(schema: string): string {
  return `
CREATE INDEX IF NOT EXISTS projects_in_flight_deadline_idx ON ${schema}.projects (deadline_at)
  WHERE status IN ('pending', 'processing');
CREATE INDEX IF NOT EXISTS projects_processing_lease_idx ON ${schema}.projects (lease_expires_at)
  WHERE status = 'processing';`;
}

/** The four asset columns, set from placeholder `$first` on. */
function assetColumns(first: number): string {
  return ['asset_url', 'preview_url', 'thumbnail_url', 'result_urls'].map((c, i) => `${c} = $${first + i}`).join(', ');
}

function assetValues(value: unknown): (string | null)[] {
  const assets = (value ?? {}) as Assets;
  return [
    assets.assetUrl ?? null,
    assets.previewUrl ?? null,
    assets.thumbnailUrl ?? null,
    assets.resultUrls ? JSON.stringify(assets.resultUrls) : null,
  ];
}

/** A refund lands on the account stream, naming its project. */
function refund(event: StoredEvent, table: string): RowChange[] {
  const projectId = optionalText(event.data.projectId);
  if (!projectId || !accountIdOf(event.streamName)) return [];
  return [
    {
      text: `UPDATE ${table} SET refunded = refunded + $2, updated_at = $3, position = $4 WHERE project_id = $1`,
      values: [projectId, amountOf(event), event.createdAt, event.position.toString()],
      expectRows: 1,
    },
  ];
}
