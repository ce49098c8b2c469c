import assert from 'node:assert';
import type pg from 'pg';
import { projectsTable, type DueProject, type DueQuery } from '@ledger/projections';

export type { DueProject, DueQuery, DueReason } from '@ledger/projections';

/** A sweep's batch bound: more due projects wait for the next sweep. */
export const DUE_PROJECTS_LIMIT_MAX = 500;

/**
 * Projects in flight that the watchdog must fail at `now`: past their deadline, or
 * processing on attempt `attemptsMax` or later with the lease run out. The read model may
 * lag the log; a candidate is only a candidate, and the decision re-reads its stream.
 */
export async function findDueProjects(db: pg.Pool | pg.ClientBase, query: DueQuery): Promise<DueProject[]> {
  assert(Number.isSafeInteger(query.limit) && query.limit >= 1 && query.limit <= DUE_PROJECTS_LIMIT_MAX);
  assert(Number.isSafeInteger(query.attemptsMax) && query.attemptsMax >= 1);
  return projectsTable.dueForWatchdog(db, query);
}
