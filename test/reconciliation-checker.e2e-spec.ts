import { randomUUID } from 'node:crypto';
import { projectStream } from '@ledger/domain';
import { client, createTestDatabase, startTestApp, within, type TestApp } from '@ledger/test-support';
import { Reconciliation } from '@ledger/ledger-api';

/**
 * The continuous reconciliation (README, "Audit and reconciliation"): a checker follows the
 * log, keeps what it finds, and GET /v1/audit/reconciliation answers from that. A hand-edited
 * row is found by its sweep and cleared once undone; a violation in the log stays; a restart
 * resumes from its checkpoint; a projector behind the checker is no mismatch.
 */
describe('continuous reconciliation', () => {
  const BOUND_MS = 20_000;
  // Short, so a hand edit (which touches no stream) is found within the test's bound.
  const env = { LEDGER_RECONCILIATION_SWEEP_MS: '50' };

  const reconcile = async (t: TestApp, query = '') => {
    const response = await client(t).get(`/v1/audit/reconciliation${query}`, { key: t.keys.audit });
    expect(response.status).toBe(200);
    return response.body as {
      mismatches: { accountId?: string; projectId?: string; field: string; projected: unknown; folded: unknown }[];
      mismatchCount: number;
      violations: { invariant: string; id: string; message: string; position: number | null }[];
      violationCount: number;
      position: number;
      headPosition: number;
      lagEvents: number;
      checkedAccounts: number;
      mode: string;
    };
  };
  const post = async (t: TestApp, url: string, body: unknown) => {
    const response = await client(t).post(url, body, { idempotencyKey: randomUUID() });
    expect(response.status).toBeLessThan(300);
    return response.body.position as number;
  };
  const checkerOf = (t: TestApp) => t.app.get(Reconciliation).checker!;

  describe('on one service', () => {
    let t: TestApp;
    let last = 0;
    beforeAll(async () => {
      t = await startTestApp('recon-checker', { env });
      for (const accountId of ['rc-a', 'rc-b']) {
        last = await post(t, `/v1/accounts/${accountId}/grants`, { amount: 500, source: 'purchase' });
      }
      last = await post(t, '/v1/projects', { projectId: 'rc-p', accountId: 'rc-a', cost: 40, kind: 'video' });
      last = await post(t, '/v1/projects/rc-p/claim', { workerId: 'w', leaseSeconds: 60 });
      last = await post(t, '/v1/projects/rc-p/complete', { attempt: 1, creditsUsed: 30 });
    });
    afterAll(async () => {
      await t.close();
    });

    it('reports a row edited by hand as a mismatch, and clears it once the row is right again', async () => {
      expect(await reconcile(t, `?minPosition=${last}&waitMs=10000`)).toMatchObject({
        mode: 'continuous',
        mismatches: [],
        violations: [],
      });
      const tamper = (delta: number) =>
        t.runtime.pool.query('UPDATE projections.account_balances SET balance = balance + $1 WHERE account_id = $2', [
          delta,
          'rc-b',
        ]);
      await tamper(7);
      try {
        const found = await within(BOUND_MS, async () => (await reconcile(t)).mismatchCount > 0);
        expect(found).toBeDefined();
        const report = await reconcile(t);
        expect(report.mismatches).toEqual([{ accountId: 'rc-b', field: 'balance', projected: 507, folded: 500 }]);
        expect(report.violations.map((v) => [v.invariant, v.id])).toEqual([
          ['I1', 'rc-b'],
          ['I7', 'rc-b'],
        ]);
      } finally {
        await tamper(-7);
      }
      const cleared = await within(BOUND_MS, async () => {
        const report = await reconcile(t);
        return report.mismatchCount === 0 && report.violationCount === 0;
      });
      expect(cleared).toBeDefined();
    });

    it('keeps a violation the log holds, through later events and sweeps', async () => {
      // An event after the project completed breaks I3; no command can write it, so it goes to the store directly.
      const stored = await t.runtime.eventStore.readStream(projectStream('rc-p'));
      const appended = await t.runtime.eventStore.append([
        {
          streamName: projectStream('rc-p'),
          expectedRevision: stored.at(-1)!.revision,
          events: [{ id: randomUUID(), type: 'ProjectNoteAdded', data: { note: 'late' }, metadata: {} }],
        },
      ]);
      const position = Number(appended.position);
      const report = await reconcile(t, `?minPosition=${position}&waitMs=10000`);
      const violation = {
        invariant: 'I3',
        id: 'rc-p',
        position,
        message: expect.stringContaining('after ProjectCompleted'),
      };
      expect(report.violations).toEqual([violation]);
      // The whole fold finds the same.
      expect((await reconcile(t, `?minPosition=${position}&waitMs=10000&full=true`)).violations).toEqual([violation]);
      // Later events on the same account, and a sweep after them: still there.
      const later = await post(t, '/v1/accounts/rc-a/debits', { amount: 5, reason: 'fee' });
      const sweeps = checkerOf(t);
      await sweeps.sweep();
      const after = await reconcile(t, `?minPosition=${later}&waitMs=10000`);
      expect(after).toMatchObject({ violations: [violation], violationCount: 1, mismatches: [] });
    });
  });

  it('resumes from its checkpoint after a restart, not from the start of the log', async () => {
    const databaseUrl = await createTestDatabase('recon-restart');
    const first = await startTestApp('recon-restart', { databaseUrl, env });
    let last = 0;
    try {
      for (let i = 0; i < 5; i++) {
        last = await post(first, `/v1/accounts/rs-${i}/grants`, { amount: 100 + i, source: 'purchase' });
      }
      expect(await reconcile(first, `?minPosition=${last}&waitMs=10000`)).toMatchObject({
        checkedAccounts: 5,
        mismatches: [],
      });
    } finally {
      await first.close();
    }
    const second = await startTestApp('recon-restart', { databaseUrl, env });
    try {
      expect(await within(BOUND_MS, async () => checkerOf(second).resumedFrom !== undefined)).toBeDefined();
      expect(Number(checkerOf(second).resumedFrom)).toBeGreaterThanOrEqual(last);
      const next = await post(second, '/v1/accounts/rs-0/debits', { amount: 10, reason: 'fee' });
      const report = await reconcile(second, `?minPosition=${next}&waitMs=10000`);
      expect(report).toMatchObject({ checkedAccounts: 5, mismatches: [], violations: [] });
      expect(report.position).toBeGreaterThanOrEqual(next);
    } finally {
      await second.close();
    }
  });

  it('does not report a projector behind the checker as a mismatch, and compares once it catches up', async () => {
    const databaseUrl = await createTestDatabase('recon-lag');
    // The projector migrates the read models' schema: once, then it stops.
    await (await startTestApp('recon-lag', { databaseUrl, env: { LEDGER_RECONCILIATION_CHECKER: 'off' } })).close();
    // No projector in this service: the read models stay where they are while the checker folds.
    const checking = await startTestApp('recon-lag', { databaseUrl, env: { ...env, LEDGER_PROJECTOR: 'external' } });
    let projecting: TestApp | undefined;
    try {
      let last = 0;
      for (let i = 0; i < 3; i++) {
        last = await post(checking, `/v1/accounts/lag-${i}/grants`, { amount: 50, source: 'purchase' });
      }
      const folded = await within(BOUND_MS, async () => {
        const { rows } = await checking.runtime.pool.query<{ position: string }>(
          'SELECT position FROM ledger_api.reconciliation_checkpoint',
        );
        return Number(rows[0]?.position ?? 0) >= last;
      });
      expect(folded).toBeDefined();
      const behind = await reconcile(checking, '?waitMs=0');
      expect(behind).toMatchObject({ mismatches: [], violations: [] });
      expect(behind.position).toBeLessThan(last);
      expect(behind.lagEvents).toBeGreaterThan(0);
      // A projector elsewhere catches up (its own checker stands by: the lock is taken).
      projecting = await startTestApp('recon-lag', { databaseUrl });
      const caughtUp = await reconcile(checking, `?minPosition=${last}&waitMs=15000`);
      expect(caughtUp).toMatchObject({ checkedAccounts: 3, mismatches: [], violations: [] });
      expect(caughtUp.position).toBeGreaterThanOrEqual(last);
      expect(checkerOf(projecting).active).toBe(false);
    } finally {
      await projecting?.close();
      await checking.close();
    }
  });

  it('at the head, waits its pace after a batch and takes what came meanwhile in one; a call ends the wait', async () => {
    // A pace far longer than the test: only a call can end it.
    const paced = await startTestApp('recon-pace', { env: { ...env, LEDGER_RECONCILIATION_PACE_MS: '60000' } });
    const checked = async () =>
      Number(
        (
          await paced.runtime.pool.query<{ position: string }>(
            'SELECT position FROM ledger_api.reconciliation_checkpoint',
          )
        ).rows[0]?.position ?? 0,
      );
    try {
      const first = await post(paced, '/v1/accounts/pace-a/grants', { amount: 50, source: 'purchase' });
      expect(await within(BOUND_MS, async () => (await checked()) >= first)).toBeDefined();
      let last = first;
      for (let i = 0; i < 3; i++) {
        last = await post(paced, '/v1/accounts/pace-a/debits', { amount: 1, reason: 'fee' });
      }
      // The read models have them; the checker, in its pause, has not moved.
      const shown = await client(paced).get(`/v1/accounts/pace-a?minPosition=${last}&waitMs=10000`, {
        key: paced.keys.read,
      });
      expect(shown.status).toBe(200);
      expect(await checked()).toBe(first);
      // A call waits for the check to reach the read models: it ends the pause.
      const report = await reconcile(paced, '?waitMs=10000');
      expect(report).toMatchObject({ mismatches: [], violations: [] });
      expect(report.position).toBeGreaterThanOrEqual(last);
    } finally {
      await paced.close();
    }
  });
});
