import { FAIL_CODE_ATTEMPTS_EXHAUSTED, FAIL_CODE_DEADLINE_EXCEEDED, type ProjectStatus } from '@ledger/domain';
import { LIVE_SCHEMA } from '../projection.js';
import {
  integerOf,
  isoOf,
  optionalIntegerOf,
  optionalIsoOf,
  SqlParams,
  type Keyed,
  type PageRequest,
  type Positioned,
  type Queryable,
} from '../rows.js';

/**
 * `projections.projects`, one row per project: its columns, its row as the API answers
 * it, and every read of it (the queries, the watchdog, the webhooks, reconciliation).
 * The projects projection writes it; migrations/ define it.
 */
export const PROJECTS_TABLE = 'projects';
const TABLE = `${LIVE_SCHEMA}.${PROJECTS_TABLE}`;

/** A row as pg returns it: bigint as text, timestamptz as Date, jsonb parsed. */
export interface ProjectRecord {
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
  /** Position of ProjectStarted: a unique, increasing key for newest-first pages. */
  started_position: string;
  position: string;
}

export type ProjectColumn = keyof ProjectRecord;

/**
 * Every column with its SQL type, in the table's order: the reads select them, and the
 * projection's batch insert casts its values to them.
 */
export const PROJECT_COLUMN_TYPES: Readonly<Record<ProjectColumn, string>> = {
  project_id: 'text',
  account_id: 'text',
  status: 'text',
  cost: 'bigint',
  credits_used: 'bigint',
  refunded: 'bigint',
  attempt: 'integer',
  worker_id: 'text',
  lease_expires_at: 'timestamptz',
  deadline_at: 'timestamptz',
  kind: 'text',
  external_task_id: 'text',
  metadata: 'jsonb',
  error_code: 'text',
  error_message: 'text',
  asset_url: 'text',
  preview_url: 'text',
  thumbnail_url: 'text',
  result_urls: 'jsonb',
  created_at: 'timestamptz',
  updated_at: 'timestamptz',
  started_position: 'bigint',
  position: 'bigint',
};
export const PROJECT_COLUMNS = Object.keys(PROJECT_COLUMN_TYPES) as readonly ProjectColumn[];
const SELECTED = PROJECT_COLUMNS.join(', ');

/** The statuses a row can have: a project has a row from its start on. */
export type ProjectRowStatus = Exclude<ProjectStatus, 'none'>;
export const PROJECT_ROW_STATUSES: readonly ProjectRowStatus[] = ['pending', 'processing', 'completed', 'failed'];

type FiguresRecord = Pick<ProjectRecord, 'account_id' | 'status' | 'cost' | 'credits_used' | 'refunded' | 'attempt'>;

/** Who pays, where the project is and its money: what reconciliation folds from the log to compare. */
function figuresOf(record: FiguresRecord) {
  return {
    accountId: record.account_id,
    status: record.status,
    cost: integerOf(record.cost),
    creditsUsed: optionalIntegerOf(record.credits_used),
    refunded: integerOf(record.refunded),
    attempt: record.attempt,
  };
}

export type ProjectFigures = ReturnType<typeof figuresOf>;

/** What `GET /v1/projects/{projectId}` and every project list answer, one shape for all. */
function projectRowOf(record: ProjectRecord) {
  const hasAssets =
    record.asset_url !== null ||
    record.preview_url !== null ||
    record.thumbnail_url !== null ||
    record.result_urls !== null;
  return {
    projectId: record.project_id,
    ...figuresOf(record),
    workerId: record.worker_id,
    leaseExpiresAt: optionalIsoOf(record.lease_expires_at),
    deadlineAt: isoOf(record.deadline_at),
    errorCode: record.error_code,
    errorMessage: record.error_message,
    assets: hasAssets
      ? {
          assetUrl: record.asset_url,
          previewUrl: record.preview_url,
          thumbnailUrl: record.thumbnail_url,
          resultUrls: record.result_urls,
        }
      : null,
    kind: record.kind,
    externalTaskId: record.external_task_id,
    metadata: record.metadata,
    createdAt: isoOf(record.created_at),
    updatedAt: isoOf(record.updated_at),
    position: integerOf(record.position),
  };
}

export type ProjectRow = ReturnType<typeof projectRowOf>;

export interface ProjectsFilter {
  accountId?: string;
  status?: ProjectRowStatus;
  /** Completed projects without a result asset (`assets.assetUrl`): for repairs. */
  missingAssets?: boolean;
}

export type DueReason = typeof FAIL_CODE_DEADLINE_EXCEEDED | typeof FAIL_CODE_ATTEMPTS_EXHAUSTED;

/** A project the read model says is due to fail, as the read model saw it. */
export interface DueProject {
  projectId: string;
  attempt: number;
  /** Null while pending. */
  leaseExpiresAt: Date | null;
  reason: DueReason;
}

export interface DueQuery {
  now: Date;
  attemptsMax: number;
  limit: number;
}

// Two index-backed halves (projects_in_flight_deadline_idx, projects_processing_lease_idx),
// each bounded, merged by the instant each project fell due: the longest overdue first.
export const DUE_PROJECTS_SQL = `
SELECT project_id, attempt, lease_expires_at, reason FROM (
  (SELECT project_id, attempt, lease_expires_at, '${FAIL_CODE_DEADLINE_EXCEEDED}' AS reason, deadline_at AS due_at
     FROM ${TABLE}
    WHERE status IN ('pending', 'processing') AND deadline_at <= $1
    ORDER BY deadline_at LIMIT $3)
  UNION ALL
  (SELECT project_id, attempt, lease_expires_at, '${FAIL_CODE_ATTEMPTS_EXHAUSTED}' AS reason, lease_expires_at AS due_at
     FROM ${TABLE}
    WHERE status = 'processing' AND lease_expires_at <= $1 AND attempt >= $2 AND deadline_at > $1
    ORDER BY lease_expires_at LIMIT $3)
) due
ORDER BY due_at, project_id
LIMIT $3`;

export const projectsTable = {
  name: PROJECTS_TABLE,

  async byId(db: Queryable, projectId: string): Promise<ProjectRow | undefined> {
    const { rows } = await db.query<ProjectRecord>(`SELECT ${SELECTED} FROM ${TABLE} WHERE project_id = $1`, [
      projectId,
    ]);
    return rows[0] && projectRowOf(rows[0]);
  },

  /**
   * Newest first, keyed on `started_position` (unique, indexed with `account_id` and with
   * `status`): a page costs the same at any depth, and projects started while a caller
   * walks the pages can't shift or repeat its rows. Reads `limit + 1` (see `Keyed`).
   */
  async page(db: Queryable, filter: ProjectsFilter, page: PageRequest): Promise<Keyed<ProjectRow>[]> {
    const params = new SqlParams();
    const where: string[] = [];
    if (filter.accountId !== undefined) where.push(`account_id = ${params.add(filter.accountId)}`);
    if (filter.status !== undefined) where.push(`status = ${params.add(filter.status)}`);
    if (filter.missingAssets) where.push(`status = 'completed' AND asset_url IS NULL`);
    if (page.after !== undefined) where.push(`started_position < ${params.add(page.after.toString())}`);
    const { rows } = await db.query<ProjectRecord>(
      `SELECT ${SELECTED} FROM ${TABLE}
       ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY started_position DESC LIMIT ${params.add(page.limit + 1)}`,
      params.values,
    );
    return rows.map((record) => ({ key: BigInt(record.started_position), row: projectRowOf(record) }));
  },

  /** The project of a provider's task (indexed); of several, the one started last. */
  async byExternalTask(db: Queryable, taskId: string): Promise<string | undefined> {
    const { rows } = await db.query<{ project_id: string }>(
      `SELECT project_id FROM ${TABLE} WHERE external_task_id = $1 ORDER BY started_position DESC LIMIT 1`,
      [taskId],
    );
    return rows[0]?.project_id;
  },

  /** The project of each of these provider tasks that has one (indexed); of several, the one started last. */
  async byExternalTasks(db: Queryable, taskIds: readonly string[]): Promise<Map<string, string>> {
    const { rows } = await db.query<{ external_task_id: string; project_id: string }>(
      `SELECT DISTINCT ON (external_task_id) external_task_id, project_id FROM ${TABLE}
       WHERE external_task_id = ANY($1::text[]) ORDER BY external_task_id, started_position DESC`,
      [taskIds],
    );
    return new Map(rows.map((row) => [row.external_task_id, row.project_id]));
  },

  /**
   * Projects in flight that the watchdog must fail at `now`: past their deadline, or
   * processing on attempt `attemptsMax` or later with the lease run out.
   */
  async dueForWatchdog(db: Queryable, query: DueQuery): Promise<DueProject[]> {
    const { rows } = await db.query<
      Pick<ProjectRecord, 'project_id' | 'attempt' | 'lease_expires_at'> & { reason: DueReason }
    >(DUE_PROJECTS_SQL, [query.now, query.attemptsMax, query.limit]);
    return rows.map((row) => ({
      projectId: row.project_id,
      attempt: row.attempt,
      leaseExpiresAt: row.lease_expires_at,
      reason: row.reason,
    }));
  },

  /** Up to `limit` rows' figures by id, after `afterId` ('' sorts before every id): pages of the whole table. */
  async figuresAfter(db: Queryable, afterId: string, limit: number): Promise<[string, ProjectFigures][]> {
    const { rows } = await db.query<FiguresRecord & { project_id: string }>(
      `SELECT project_id, account_id, status, cost, credits_used, refunded, attempt
       FROM ${TABLE} WHERE project_id > $1 ORDER BY project_id LIMIT $2`,
      [afterId, limit],
    );
    return rows.map((record) => [record.project_id, figuresOf(record)]);
  },

  /** The rows' figures of these projects, with the position of the last event each row applied. */
  async figuresByIds(db: Queryable, projectIds: readonly string[]): Promise<Map<string, Positioned<ProjectFigures>>> {
    if (projectIds.length === 0) return new Map();
    const { rows } = await db.query<FiguresRecord & { project_id: string; position: string }>(
      `SELECT project_id, account_id, status, cost, credits_used, refunded, attempt, position
       FROM ${TABLE} WHERE project_id = ANY($1::text[])`,
      [projectIds],
    );
    return new Map(rows.map((r) => [r.project_id, { row: figuresOf(r), position: BigInt(r.position) }]));
  },
};
