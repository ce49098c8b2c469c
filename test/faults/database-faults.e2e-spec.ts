import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { PostgresEventStore } from '@ledger/event-store';
import { startEmbeddedPostgres, type RunningPostgres } from '@ledger/platform';
import { client, compareWithFold, startTestApp, type TestApp } from '@ledger/test-support';

/**
 * The database itself dies (SIGKILL of the PostgreSQL postmaster) while the service runs
 * under load, and comes back on the same data: meanwhile every command answers 503 with
 * Retry-After (never a 500), nothing is half done, and once it is back the service serves
 * again without a restart: commands, the projector (read-your-writes), the watchdog.
 */
describe('database faults', () => {
  let dataDir: string;
  let postgres: RunningPostgres | undefined;
  let t: TestApp | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'ledger-dbfaults-'));
    await chmod(dataDir, 0o755);
    postgres = await startEmbeddedPostgres({ dataDir });
  }, 60_000);
  afterAll(async () => {
    await t?.close().catch(() => undefined);
    await postgres?.stop().catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('answers 503 with Retry-After while PostgreSQL is down, and recovers without a restart', async () => {
    const databaseUrl = await postgres!.createDatabase('ledger');
    t = await startTestApp('dbfaults', {
      databaseUrl,
      env: { LEDGER_WATCHDOG_INTERVAL_MS: '100', LEDGER_RATE_LIMIT_PER_SECOND: '100000' },
    });
    const api = client(t);
    const answers: { phase: Phase; status: number; retryAfter: unknown; key: string; path: string; body: unknown }[] =
      [];
    type Phase = 'up' | 'down' | 'back';
    let phase: Phase = 'up';
    let running = true;
    const worker = async (w: number) => {
      for (let i = 0; running; i++) {
        const key = `load-${w}-${i}`;
        const seenIn = phase;
        const body = { amount: 5, source: 'purchase', grantId: `g-${w}-${i}` };
        const path = `/v1/accounts/acc-${w}/grants`;
        const reply = await api.post(path, body, { idempotencyKey: key });
        answers.push({
          phase: seenIn,
          status: reply.status,
          retryAfter: reply.headers['retry-after'],
          key,
          path,
          body,
        });
      }
    };
    const load = [0, 1, 2, 3].map(worker);
    const count = (which: Phase, ok: (status: number) => boolean) =>
      answers.filter((a) => a.phase === which && ok(a.status)).length;
    try {
      await until(() => count('up', (s) => s === 201) >= 20);
      const pid = Number((await readFile(join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0]);
      phase = 'down';
      process.kill(pid, 'SIGKILL');
      await until(() => count('down', (s) => s === 503) >= 20);
      postgres = await startEmbeddedPostgres({ dataDir, port: postgres!.port });
      phase = 'back';
      await until(() => count('back', (s) => s === 201) >= 20, 60_000);
    } finally {
      running = false;
      await Promise.all(load);
    }

    // Never a 500: accepted, or 503 with Retry-After.
    const odd = answers.filter((a) => !(a.status === 201 || (a.status === 503 && a.retryAfter !== undefined)));
    expect(odd.map(({ phase: p, status, key }) => ({ p, status, key }))).toEqual([]);
    // Never a half step: every command, retried with its key, is applied exactly once.
    for (const a of answers) {
      const again = await api.post(a.path, a.body, { idempotencyKey: a.key });
      expect(again.status).toBe(201);
    }
    const store = await PostgresEventStore.connect({ connectionString: databaseUrl, poolSize: 2 });
    const pool = new pg.Pool({ connectionString: databaseUrl });
    try {
      const { rows } = await pool.query<{ keys: number; commands: number }>(
        `SELECT count(DISTINCT metadata->>'idempotencyKey')::int AS keys, count(DISTINCT metadata->>'commandId')::int AS commands
         FROM event_store.events WHERE metadata->>'idempotencyKey' LIKE 'load-%'`,
      );
      expect(rows[0]).toEqual({ keys: answers.length, commands: answers.length });
      // The projector followed on (read-your-writes of a command after the outage), and the watchdog is active again.
      const last = await api.post(
        '/v1/accounts/acc-after/grants',
        { amount: 1, source: 'promo' },
        { idempotencyKey: randomUUID() },
      );
      expect((await api.get(`/v1/accounts/acc-after?minPosition=${last.body.position}&waitMs=20000`)).status).toBe(200);
      await until(async () => (await api.get('/health/ready', { key: null })).body.info?.watchdog?.role === 'active');
      const audit = await api.get('/v1/audit/reconciliation');
      expect({ mismatches: audit.body.mismatches, violations: audit.body.violations }).toEqual({
        mismatches: [],
        violations: [],
      });
      expect(await compareWithFold(pool, store)).toEqual({ missing: 0, duplicated: 0, wrong: 0, rows: [] });
    } finally {
      await store.close();
      await pool.end();
    }
    process.stdout.write(
      `database faults: ${answers.length} commands; while down ${count('down', (s) => s === 503)} answered 503, ` +
        `${count('down', (s) => s === 201)} 201 (in flight at the kill); after: ${count('back', (s) => s === 201)} 201\n`,
    );
  }, 120_000);
});

/** Re-checks a condition; fails after `timeoutMs`. */
async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
