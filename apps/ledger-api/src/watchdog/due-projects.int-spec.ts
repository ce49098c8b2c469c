import pg from 'pg';
import { migrate } from '@ledger/platform';
import { DUE_PROJECTS_SQL, projectionMigrations } from '@ledger/projections';
import { createTestDatabase } from '@ledger/test-support';
import { findDueProjects } from './due-projects.js';

const T = Date.UTC(2026, 0, 1);
const at = (ms: number) => new Date(T + ms);

interface Row {
  id: string;
  status: 'pending' | 'processing' | 'completed' | 'failed';
  deadlineMs: number;
  attempt?: number;
  leaseMs?: number;
}

describe('the due projects (read model)', () => {
  let pool: pg.Pool;
  let position = 0;

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: await createTestDatabase('due_projects') });
    await migrate(pool, projectionMigrations);
  });
  afterAll(async () => {
    await pool.end();
  });
  beforeEach(async () => {
    await pool.query('TRUNCATE projections.projects');
  });

  async function insert(...rows: Row[]): Promise<void> {
    for (const row of rows) {
      position++;
      await pool.query(
        `INSERT INTO projections.projects (project_id, account_id, status, cost, attempt, lease_expires_at, deadline_at,
           created_at, updated_at, started_position, position)
         VALUES ($1, 'acc', $2, 10, $3, $4, $5, $6, $6, $7, $7)`,
        [
          row.id,
          row.status,
          row.attempt ?? 0,
          row.leaseMs === undefined ? null : at(row.leaseMs),
          at(row.deadlineMs),
          at(-3_600_000),
          position,
        ],
      );
    }
  }

  const due = (limit = 500, attemptsMax = 3) => findDueProjects(pool, { now: at(0), attemptsMax, limit });

  it('finds the projects in flight past their deadline or out of attempts, at the instant and not a millisecond before', async () => {
    await insert(
      { id: 'pending-due', status: 'pending', deadlineMs: 0 },
      { id: 'pending-early', status: 'pending', deadlineMs: 1 },
      { id: 'processing-overdue', status: 'processing', deadlineMs: -10_000, attempt: 1, leaseMs: 60_000 },
      { id: 'exhausted', status: 'processing', deadlineMs: 60_000, attempt: 3, leaseMs: 0 },
      { id: 'beyond', status: 'processing', deadlineMs: 60_000, attempt: 4, leaseMs: -5_000 },
      { id: 'attempts-left', status: 'processing', deadlineMs: 60_000, attempt: 2, leaseMs: -1_000 },
      { id: 'lease-lives', status: 'processing', deadlineMs: 60_000, attempt: 3, leaseMs: 1 },
      { id: 'both', status: 'processing', deadlineMs: -2_000, attempt: 3, leaseMs: -9_000 },
      { id: 'completed', status: 'completed', deadlineMs: -60_000, attempt: 3, leaseMs: -60_000 },
      { id: 'failed', status: 'failed', deadlineMs: -60_000 },
    );
    expect(await due()).toEqual([
      { projectId: 'processing-overdue', attempt: 1, leaseExpiresAt: at(60_000), reason: 'deadline_exceeded' },
      { projectId: 'beyond', attempt: 4, leaseExpiresAt: at(-5_000), reason: 'attempts_exhausted' },
      // Past both: once, as the deadline it passed.
      { projectId: 'both', attempt: 3, leaseExpiresAt: at(-9_000), reason: 'deadline_exceeded' },
      { projectId: 'exhausted', attempt: 3, leaseExpiresAt: at(0), reason: 'attempts_exhausted' },
      { projectId: 'pending-due', attempt: 0, leaseExpiresAt: null, reason: 'deadline_exceeded' },
    ]);
    expect((await due(500, 2)).map((p) => p.projectId)).toContain('attempts-left');
  });

  it('returns at most the batch limit, the longest overdue first, and refuses a limit past the bound', async () => {
    await insert(
      ...Array.from({ length: 7 }, (_, i): Row => ({ id: `p-${i}`, status: 'pending', deadlineMs: -1_000 * (i + 1) })),
    );
    expect((await due(3)).map((p) => p.projectId)).toEqual(['p-6', 'p-5', 'p-4']);
    await expect(due(501)).rejects.toThrow();
    await expect(due(0)).rejects.toThrow();
  });

  it('can answer from the partial indexes alone, never reading the projects that ended', async () => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN; SET LOCAL enable_seqscan = off');
      const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${DUE_PROJECTS_SQL}`, [at(0), 3, 500]);
      const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(plan).toContain('projects_in_flight_deadline_idx');
      expect(plan).toContain('projects_processing_lease_idx');
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
  });
});
