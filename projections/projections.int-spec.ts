import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { PostgresEventStore } from '@ledger/event-store';
import { Projector } from './engine/projector.js';
import { startProjectedDatabase, type ProjectedDatabase } from './testing/projected-database.js';

const quiet = {
  info: () => undefined,
  warn: (o: object, m: string) => console.log(m, o),
  error: (o: object, m: string) => console.log(m, o),
};

describe('projections: given events, expected rows', () => {
  let db: ProjectedDatabase;
  let url: string;
  let store: PostgresEventStore;
  let pool: pg.Pool;
  let projector: Projector;

  beforeAll(async () => {
    db = await startProjectedDatabase('projections', quiet);
    ({ url, store, pool, projector } = db);
  });
  afterAll(() => db.close());

  const e = (type: string, data: Record<string, unknown>) => ({ id: randomUUID(), type, data });
  async function given(stream: string, ...events: ReturnType<typeof e>[]): Promise<bigint> {
    const result = await store.append([{ streamName: stream, expectedRevision: 'any', events }]);
    await projector.caughtUp(result.position);
    return result.position;
  }
  const row = async (sql: string, ...values: unknown[]) => (await pool.query(sql, values)).rows;

  it('account_balances: grants, debits and refunds move the balance and the totals', async () => {
    const acc = `acc-${randomUUID()}`;
    await given(`account-${acc}`, e('CreditsGranted', { amount: 100, source: 'purchase' }));
    const position = await given(
      `account-${acc}`,
      e('Debited', { amount: 30, reason: 'fee' }),
      e('Refunded', { amount: 10, reason: 'goodwill' }),
    );
    expect(await row('SELECT * FROM projections.account_balances WHERE account_id = $1', acc)).toEqual([
      expect.objectContaining({
        balance: '80',
        total_granted: '100',
        total_debited: '30',
        total_refunded: '10',
        position: position.toString(),
      }),
    ]);
  });

  it('ledger_entries: one row per money movement with the balance after it', async () => {
    const acc = `acc-${randomUUID()}`;
    await given(
      `account-${acc}`,
      e('CreditsGranted', { amount: 50, source: 'promo', reference: 'welcome' }),
      e('Debited', { amount: 20, reason: 'fee' }),
      e('CreditsGranted', { amount: 5, source: 'adjustment' }),
    );
    const entries = await row(
      'SELECT type, amount, balance_after, reason, source, reference FROM projections.ledger_entries WHERE account_id = $1 ORDER BY position',
      acc,
    );
    expect(entries).toEqual([
      {
        type: 'CreditsGranted',
        amount: '50',
        balance_after: '50',
        reason: null,
        source: 'promo',
        reference: 'welcome',
      },
      { type: 'Debited', amount: '20', balance_after: '30', reason: 'fee', source: null, reference: null },
      { type: 'CreditsGranted', amount: '5', balance_after: '35', reason: null, source: 'adjustment', reference: null },
    ]);
  });

  it('projects: lifecycle, refund and result assets', async () => {
    const acc = `acc-${randomUUID()}`;
    const prj = `prj-${randomUUID()}`;
    await given(`account-${acc}`, e('CreditsGranted', { amount: 100, source: 'purchase' }));
    await given(`account-${acc}`, e('Debited', { amount: 40, projectId: prj, reason: 'project_started' }));
    await given(
      `project-${prj}`,
      e('ProjectStarted', {
        accountId: acc,
        cost: 40,
        kind: 'video',
        externalTaskId: 'task-1',
        deadlineAt: '2030-01-01T00:00:00.000Z',
      }),
      e('ProjectClaimed', { attempt: 1, workerId: 'w-1', leaseExpiresAt: '2030-01-01T00:01:00.000Z' }),
      e('LeaseExtended', { attempt: 1, leaseExpiresAt: '2030-01-01T00:02:00.000Z' }),
    );
    expect(
      (
        await row(
          'SELECT status, attempt, worker_id, external_task_id FROM projections.projects WHERE project_id = $1',
          prj,
        )
      )[0],
    ).toEqual({
      status: 'processing',
      attempt: 1,
      worker_id: 'w-1',
      external_task_id: 'task-1',
    });
    const assets = {
      assetUrl: 'https://cdn.test/a',
      previewUrl: 'https://cdn.test/p',
      resultUrls: ['https://cdn.test/1'],
    };
    await given(`project-${prj}`, e('ProjectCompleted', { attempt: 1, creditsUsed: 35, assets }));
    await given(`account-${acc}`, e('Refunded', { amount: 5, projectId: prj, reason: 'partial_use' }));
    expect((await row('SELECT * FROM projections.projects WHERE project_id = $1', prj))[0]).toMatchObject({
      account_id: acc,
      status: 'completed',
      cost: '40',
      credits_used: '35',
      refunded: '5',
      asset_url: assets.assetUrl,
      preview_url: assets.previewUrl,
      thumbnail_url: null,
      result_urls: assets.resultUrls,
      kind: 'video',
    });
  });

  it('projects: assets attached after the completion replace the asset columns, absent ones emptied', async () => {
    const prj = `prj-${randomUUID()}`;
    await given(
      `project-${prj}`,
      e('ProjectStarted', { accountId: 'a', cost: 1, deadlineAt: '2030-01-01T00:00:00.000Z' }),
      e('ProjectClaimed', { attempt: 1, workerId: 'w-1', leaseExpiresAt: '2030-01-01T00:01:00.000Z' }),
      e('ProjectCompleted', { attempt: 1, creditsUsed: 1, assets: { thumbnailUrl: 'https://cdn.test/t' } }),
    );
    const assets = { assetUrl: 'https://cdn.test/a', resultUrls: ['https://cdn.test/1', 'https://cdn.test/2'] };
    const position = await given(`project-${prj}`, e('ProjectAssetsAttached', { assets }));
    const columns = 'status, credits_used, asset_url, preview_url, thumbnail_url, result_urls, position';
    expect((await row(`SELECT ${columns} FROM projections.projects WHERE project_id = $1`, prj))[0]).toEqual({
      status: 'completed',
      credits_used: '1',
      asset_url: assets.assetUrl,
      preview_url: null,
      thumbnail_url: null,
      result_urls: assets.resultUrls,
      position: position.toString(),
    });
  });

  it('projects: a failure keeps its code and message', async () => {
    const prj = `prj-${randomUUID()}`;
    await given(
      `project-${prj}`,
      e('ProjectStarted', { accountId: 'a', cost: 1, deadlineAt: '2030-01-01T00:00:00.000Z' }),
      e('ProjectFailed', { code: 'cancelled', errorMessage: 'user cancelled' }),
    );
    expect(
      (await row('SELECT status, error_code, error_message FROM projections.projects WHERE project_id = $1', prj))[0],
    ).toEqual({
      status: 'failed',
      error_code: 'cancelled',
      error_message: 'user cancelled',
    });
  });

  it('moves every checkpoint past events no projection maps (idempotency records)', async () => {
    const position = await given(`idem-${randomUUID()}`, e('CommandRecorded', { status: 201, body: '{}' }));
    const { rows } = await pool.query<{ position: string }>('SELECT position FROM projections.checkpoints');
    expect(rows.map((r) => BigInt(r.position))).toEqual([position, position, position, position]);
  });

  it('starts again from the checkpoint when another runner moved it, instead of stopping', async () => {
    const acc = `acc-${randomUUID()}`;
    const before = await given(`account-${acc}`, e('CreditsGranted', { amount: 3, source: 'promo' }));
    // As if a runner that took over meanwhile had applied the next position already.
    await pool.query("UPDATE projections.checkpoints SET position = $1 WHERE projection = 'account_balances'", [
      String(before + 1n),
    ]);
    const result = await store.append([
      { streamName: `other-${randomUUID()}`, expectedRevision: 'no_stream', events: [e('Filler', {})] },
      {
        streamName: `account-${acc}`,
        expectedRevision: 'any',
        events: [e('CreditsGranted', { amount: 4, source: 'promo' })],
      },
    ]);
    await projector.caughtUp(result.position);
    expect(projector.status().find((s) => s.projection === 'account_balances')).toMatchObject({ failed: undefined });
    expect((await row('SELECT balance FROM projections.account_balances WHERE account_id = $1', acc))[0]).toEqual({
      balance: '7',
    });
  });

  it('runs one active runner per projection across replicas; a standby takes over when the active one stops', async () => {
    const replica = new Projector({ pool, connectionString: url, store, log: quiet, lockRetryMs: 20 });
    await replica.start();
    try {
      await until(() => replica.status().every((s) => s.standby));
      expect(projector.status().every((s) => s.active)).toBe(true);
      expect(replica.status().some((s) => s.active)).toBe(false);
      await projector.stop();
      await until(() => replica.status().every((s) => s.active));
      const acc = `acc-${randomUUID()}`;
      const result = await store.append([
        {
          streamName: `account-${acc}`,
          expectedRevision: 'no_stream',
          events: [e('CreditsGranted', { amount: 7, source: 'promo' })],
        },
      ]);
      await replica.caughtUp(result.position);
      expect((await row('SELECT balance FROM projections.account_balances WHERE account_id = $1', acc))[0]).toEqual({
        balance: '7',
      });
    } finally {
      await replica.stop();
      projector = db.projector = new Projector({ pool, connectionString: url, store, log: quiet });
      await projector.start();
    }
  });
});

/** Waits for a condition that a background loop makes true, by yielding to it (no fixed sleeps). */
async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setImmediate(resolve));
  }
}
