import assert from 'node:assert';
import type pg from 'pg';
import { FAIL_CODE_ATTEMPTS_EXHAUSTED, FAIL_CODE_DEADLINE_EXCEEDED } from '@ledger/domain';
import { LIVE_SCHEMA } from '@ledger/projections';

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

/** A sweep's batch bound: more due projects wait for the next sweep. */
export const DUE_PROJECTS_LIMIT_MAX = 500;

// Two index-backed halves (projects_in_flight_deadline_idx, projects_processing_lease_idx),
// each bounded, merged by the instant each project fell due: the longest overdue first.
export const DUE_PROJECTS_SQL = `
SELECT project_id, attempt, lease_expires_at, reason FROM (
  (SELECT project_id, attempt, lease_expires_at, '${FAIL_CODE_DEADLINE_EXCEEDED}' AS reason, deadline_at AS due_at
     FROM ${LIVE_SCHEMA}.projects
    WHERE status IN ('pending', 'processing') AND deadline_at <= $1
    ORDER BY deadline_at LIMIT $3)
  UNION ALL
  (SELECT project_id, attempt, lease_expires_at, '${FAIL_CODE_ATTEMPTS_EXHAUSTED}' AS reason, lease_expires_at AS due_at
     FROM ${LIVE_SCHEMA}.projects
    WHERE status = 'processing' AND lease_expires_at <= $1 AND attempt >= $2 AND deadline_at > $1
    ORDER BY lease_expires_at LIMIT $3)
) due
ORDER BY due_at, project_id
LIMIT $3`;

/**
 * Projects in flight that the watchdog must fail at `now`: past their deadline, or
 * processing on attempt `attemptsMax` or later with the lease run out. The read model may
 * lag the log; a candidate is only a candidate, and the decision re-reads its stream.
 */
export async function findDueProjects(db: pg.Pool | pg.ClientBase, query: DueQuery): Promise<DueProject[]> {
  assert(Number.isSafeInteger(query.limit) && query.limit >= 1 && query.limit <= DUE_PROJECTS_LIMIT_MAX);
  assert(Number.isSafeInteger(query.attemptsMax) && query.attemptsMax >= 1);
  const { rows } = await db.query<{
    project_id: string;
    attempt: number;
    lease_expires_at: Date | null;
    reason: DueReason;
  }>(DUE_PROJECTS_SQL, [query.now, query.attemptsMax, query.limit]);
  return rows.map((row) => ({
    projectId: row.project_id,
    attempt: row.attempt,
    leaseExpiresAt: row.lease_expires_at,
    reason: row.reason,
  }));
}
