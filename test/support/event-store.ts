import { KurrentDbDouble } from '@ledger/event-store/testing';

/**
 * Which event store the end-to-end apps run on. By default, the suite's PostgreSQL; with
 * LEDGER_TEST_EVENT_STORE=kurrentdb-double (the "e2e (kurrentdb double)" jest project), each
 * app's database gets its own in-memory KurrentDB double (a restart of an app, a second
 * instance on the same database, share it) and the app talks to it through the real client.
 */
const doubles = new Map<string, Promise<KurrentDbDouble>>();

export function onKurrentDbDouble(): boolean {
  return process.env.LEDGER_TEST_EVENT_STORE === 'kurrentdb-double';
}

/** The configuration (as environment variables) that points an app at its event store. */
export async function testEventStoreEnv(databaseUrl: string): Promise<Record<string, string>> {
  if (!onKurrentDbDouble()) return {};
  let double = doubles.get(databaseUrl);
  if (!double) {
    double = KurrentDbDouble.start();
    doubles.set(databaseUrl, double);
  }
  return { LEDGER_EVENT_STORE: 'kurrentdb', EVENTSTORE_CONNECTION_STRING: (await double).connectionString };
}

export async function stopTestEventStores(): Promise<void> {
  const started = [...doubles.values()];
  doubles.clear();
  await Promise.all(started.map(async (double) => (await double).stop()));
}
