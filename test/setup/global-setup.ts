import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// eslint-disable-next-line no-restricted-imports -- jest loads global setup without path aliases
import { startEmbeddedPostgres } from '../../libs/platform/src/embedded-postgres.ts';

/**
 * One real PostgreSQL for the whole run, in a temporary folder on a free port,
 * unless DATABASE_URL names one already. Workers inherit TEST_DATABASE_URL.
 */
export default async function globalSetup(): Promise<void> {
  if (!process.env.EVENTSTORE_CONNECTION_STRING) {
    process.stdout.write(
      '\nKurrentDB contract suite against a real server not run (it runs on the KurrentDB double): ' +
        'EVENTSTORE_CONNECTION_STRING is not set (`npm run test:kurrentdb` starts one with Docker).\n',
    );
  }
  if (process.env.DATABASE_URL) {
    process.env.TEST_DATABASE_URL = process.env.DATABASE_URL;
    return;
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'ledger-test-'));
  // mkdtemp makes the folder 0700; the postgres user must be able to enter it.
  await chmod(dataDir, 0o755);
  const postgres = await startEmbeddedPostgres({ dataDir });
  process.env.TEST_DATABASE_URL = postgres.url;
  process.env.TEST_DATA_DIR = dataDir;
  (globalThis as { __ledgerPostgres?: typeof postgres }).__ledgerPostgres = postgres;
}
