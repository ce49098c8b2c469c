/**
 * The projector as a bare process for the crash test: killed with SIGKILL at
 * random points, restarted, and judged by what it leaves in the tables.
 * CHECKPOINT_MODE=separate runs the broken variant the test must catch.
 */
import pg from 'pg';
import { PostgresEventStore } from '@ledger/event-store';
import { Projector } from '@ledger/projections';

const url = process.env.DATABASE_URL!;
const mode = process.env.CHECKPOINT_MODE === 'separate' ? 'separate' : 'same-transaction';
const store = await PostgresEventStore.connect({ connectionString: url });
const pool = new pg.Pool({ connectionString: url });
pool.on('error', () => undefined);
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const projector = new Projector({
  pool,
  connectionString: url,
  store,
  log: silent,
  // Small batches: many commits, so the kills land between and inside them.
  batchSizeMax: 25,
  checkpointMode: mode,
  lockRetryMs: 20,
});
await projector.start();
process.stdout.write('ready\n');
