import { accountIdOf, projectIdOf, type ProjectAssets, type ProjectEvent } from '@ledger/domain';
import type { StoredEvent } from '@ledger/event-store';
import { asLedgerEvent, isAccountEvent, type AsLedgerEvent } from '../ledger-event.js';
import { amountOf, type Projection, type RowChange, type SqlValue } from '../projection.js';
import { PROJECTS_TABLE, type ProjectColumn } from './projects.table.js';
import { insertFresh, started, type FreshProject } from './started-in-batch.js';

type Stored = AsLedgerEvent<StoredEvent>;
type Columns = Partial<Record<ProjectColumn, SqlValue>>;

/**
 * Every project's status, money, attempt, lease, error and result assets. A project
 * started in the same batch (catch-up, rebuild) is folded in memory and inserted as it
 * ends the batch, all of them in one statement; others change row by row, each update
 * asserted to hit its one row. Both apply the same `columnsSetBy`.
 */
export const projectsProjection: Projection = {
  name: 'projects',
  tables: [PROJECTS_TABLE],
  map(events: readonly StoredEvent[], schema: string): RowChange[] {
    const table = `${schema}.${PROJECTS_TABLE}`;
    const fresh = new Map<string, FreshProject>();
    const changes: RowChange[] = [];
    for (const stored of events) {
      const event = asLedgerEvent(stored);
      if (event === undefined) continue;
      if (isAccountEvent(event)) {
        // Of the account's events, only a refund moves a project's money.
        if (event.type !== 'Refunded') continue;
        // A refund lands on the account stream, naming its project.
        const projectId = event.data.projectId;
        if (!projectId || !accountIdOf(event.streamName)) continue;
        const row = fresh.get(projectId);
        if (row) touch(row, event, { refunded: row.refunded + Number(amountOf(event)) });
        else changes.push(refund(table, projectId, event));
        continue;
      }
      const projectId = projectIdOf(event.streamName);
      if (!projectId) continue;
      const row = fresh.get(projectId);
      if (event.type === 'ProjectStarted') {
        if (!row) fresh.set(projectId, started(projectId, event));
      } else if (row) {
        touch(row, event, columnsSetBy(event));
      } else {
        changes.push(update(table, projectId, event, columnsSetBy(event)));
      }
    }
    return fresh.size > 0 ? [insertFresh(table, [...fresh.values()]), ...changes] : changes;
  },
};

/** What an event after its project's start sets on the row: the one mapping of events to columns. */
function columnsSetBy(event: Exclude<ProjectEvent, { type: 'ProjectStarted' }>): Columns {
  switch (event.type) {
    case 'ProjectClaimed':
      return {
        status: 'processing',
        attempt: event.data.attempt,
        worker_id: event.data.workerId,
        lease_expires_at: event.data.leaseExpiresAt,
      };
    case 'LeaseExtended':
      return { lease_expires_at: event.data.leaseExpiresAt };
    case 'ProjectCompleted':
      return { status: 'completed', credits_used: event.data.creditsUsed, ...assetColumns(event.data.assets) };
    // The event holds the project's whole set of assets, so every column is set, absent ones to null.
    case 'ProjectAssetsAttached':
      return assetColumns(event.data.assets);
    case 'ProjectFailed':
      return { status: 'failed', error_code: event.data.code, error_message: event.data.errorMessage };
  }
}

function assetColumns(assets: ProjectAssets | undefined): Columns {
  return {
    asset_url: assets?.assetUrl ?? null,
    preview_url: assets?.previewUrl ?? null,
    thumbnail_url: assets?.thumbnailUrl ?? null,
    result_urls: assets?.resultUrls ? JSON.stringify(assets.resultUrls) : null,
  };
}

/** A row still in memory, changed as the SQL below changes one in the table. */
function touch(row: FreshProject, event: Stored, columns: Columns): void {
  Object.assign(row, columns);
  row.updated_at = event.createdAt;
  row.position = event.position.toString();
}

function update(table: string, projectId: string, event: Stored, columns: Columns): RowChange {
  const names = Object.keys(columns);
  return {
    text: `UPDATE ${table} SET ${names.map((c, i) => `${c} = $${i + 4}`).join(', ')}, updated_at = $2, position = $3
           WHERE project_id = $1`,
    values: [projectId, event.createdAt, event.position.toString(), ...(Object.values(columns) as SqlValue[])],
    expectRows: 1,
  };
}

function refund(table: string, projectId: string, event: Stored & { data: { amount: number } }): RowChange {
  return {
    text: `UPDATE ${table} SET refunded = refunded + $2, updated_at = $3, position = $4 WHERE project_id = $1`,
    values: [projectId, amountOf(event), event.createdAt, event.position.toString()],
    expectRows: 1,
  };
}
