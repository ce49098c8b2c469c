import pg from 'pg';
import { PostgresEventStore } from '@ledger/event-store';
import { createTestDatabase } from '@ledger/test-support';
import { Projector } from '../engine/projector.js';
import type { RunnerLog } from '../engine/projection-runner.js';

/** A test database of its own: the event store, a pool and a running projector of every projection. */
export interface ProjectedDatabase {
  url: string;
  store: PostgresEventStore;
  pool: pg.Pool;
  projector: Projector;
  close(): Promise<void>;
}

export async function startProjectedDatabase(name: string, log: RunnerLog): Promise<ProjectedDatabase> {
  const url = await createTestDatabase(name);
  const store = await PostgresEventStore.connect({ connectionString: url });
  const pool = new pg.Pool({ connectionString: url });
  // A test may stop the server's connections under the pool; its idle clients then report here.
  pool.on('error', () => undefined);
  const projector = new Projector({ pool, connectionString: url, store, log });
  await projector.start();
  const db: ProjectedDatabase = {
    url,
    store,
    pool,
    projector,
    // The projector a test put in place of the first one, if it did.
    async close() {
      await this.projector.stop();
      await Promise.all([store.close(), pool.end()]);
    },
  };
  return db;
}
