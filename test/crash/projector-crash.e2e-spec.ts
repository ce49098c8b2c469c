import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { PostgresEventStore } from '@ledger/event-store';
import { migrate } from '@ledger/platform';
import { projectionMigrations } from '@ledger/projections';
import { compareWithFold, createTestDatabase, LedgerWorkload } from '@ledger/test-support';

const KILLS = 20;
const CHILD = 'test/crash/projector-child.ts';

/**
 * The projector is a real process, killed with SIGKILL at random points while
 * a writer keeps appending; after a last restart its tables must equal a fold
 * of all events: nothing missing, nothing applied twice. The kill points
 * include the most dangerous one there is: rows of a batch visible while the
 * checkpoint still says otherwise (only possible when they commit apart).
 */
describe('projector crashes', () => {
  async function crashScenario(mode: 'same-transaction' | 'separate') {
    const url = await createTestDatabase(`crash_${mode.replace('-', '_')}`);
    const store = await PostgresEventStore.connect({ connectionString: url, poolSize: 4 });
    const pool = new pg.Pool({ connectionString: url });
    pool.on('error', () => undefined);
    await migrate(pool, projectionMigrations);
    const workload = new LedgerWorkload(store);
    for (let i = 0; i < 50; i++) await workload.step();
    let writing = true;
    const writer = (async () => {
      // Bounded: stops with the kills, or after this many appends.
      for (let i = 0; writing && i < 30_000; i++) await workload.step();
    })();
    let partialStatesSeen = 0;
    try {
      for (let kill = 0; kill < KILLS; kill++) {
        const child = await startChild(url, mode);
        const from = await checkpoint(pool, 'ledger_entries');
        const advanceBy = 1n + BigInt(Math.floor(Math.random() * 150));
        await until(async () => {
          if (await partialState(pool)) {
            partialStatesSeen++;
            return true;
          }
          return (await checkpoint(pool, 'ledger_entries')) >= from + advanceBy;
        });
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
    } finally {
      writing = false;
      await writer;
    }
    const head = await store.headPosition();
    const last = await startChild(url, mode);
    // The broken variant may never catch up (a replayed batch hits its own rows): bound that wait.
    const caughtUp = await until(
      async () => (await minCheckpoint(pool)) >= head,
      mode === 'separate' ? 5_000 : 60_000,
    ).then(
      () => true,
      () => false,
    );
    last.kill('SIGKILL');
    await once(last, 'exit');
    // Caught up or not (waited for above), the tables are compared as they are.
    const differences = await compareWithFold(pool, store, { catchUpMs: 0 });
    await store.close();
    await pool.end();
    return { caughtUp, differences, partialStatesSeen, events: workload.appended };
  }

  it(`leaves tables equal to a fold of all events after ${KILLS} SIGKILLs (checkpoint in the batch's transaction)`, async () => {
    const result = await crashScenario('same-transaction');
    expect(result.partialStatesSeen).toBe(0);
    expect(result.caughtUp).toBe(true);
    expect(result.differences).toEqual({ missing: 0, duplicated: 0, wrong: 0, rows: [] });
    expect(result.events).toBeGreaterThan(200);
  }, 180_000);

  it('fails the same check when the checkpoint is committed apart from the rows', async () => {
    const result = await crashScenario('separate');
    expect(result.partialStatesSeen).toBeGreaterThan(0);
    const broken =
      !result.caughtUp || result.differences.missing + result.differences.duplicated + result.differences.wrong > 0;
    expect(broken).toBe(true);
  }, 180_000);
});

async function startChild(url: string, mode: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    env: { ...process.env, DATABASE_URL: url, CHECKPOINT_MODE: mode, NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) if (line === 'ready') break;
  return child;
}

async function checkpoint(pool: pg.Pool, projection: string): Promise<bigint> {
  const { rows } = await pool.query<{ position: string }>(
    'SELECT position FROM projections.checkpoints WHERE projection = $1',
    [projection],
  );
  return BigInt(rows[0]!.position);
}

async function minCheckpoint(pool: pg.Pool): Promise<bigint> {
  const { rows } = await pool.query<{ position: string }>(
    'SELECT min(position) AS position FROM projections.checkpoints',
  );
  return BigInt(rows[0]!.position);
}

/** Ledger rows committed beyond the ledger checkpoint: a batch whose checkpoint is not yet written. */
async function partialState(pool: pg.Pool): Promise<boolean> {
  const { rows } = await pool.query<{ partial: boolean }>(
    `SELECT coalesce(max(e.position), 0) > (SELECT position FROM projections.checkpoints WHERE projection = 'ledger_entries') AS partial
     FROM projections.ledger_entries e`,
  );
  return rows[0]!.partial;
}

/** Re-checks a condition the child process makes true; fails after `timeoutMs`. */
async function until(condition: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
