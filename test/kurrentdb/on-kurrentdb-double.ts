// setupFilesAfterEnv of the "e2e (kurrentdb double)" jest project: the same end-to-end specs,
// with every app on a KurrentDB double (test/support/event-store.ts) instead of PostgreSQL.
import { stopTestEventStores } from '@ledger/test-support';

process.env.LEDGER_TEST_EVENT_STORE = 'kurrentdb-double';

afterAll(async () => {
  await stopTestEventStores();
});
