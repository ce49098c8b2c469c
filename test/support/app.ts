import { randomBytes } from 'node:crypto';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import {
  createApp,
  loadConfig,
  openRuntime,
  type ApiKeyConfig,
  type Clock,
  type LedgerRuntime,
  type Scope,
} from '@ledger/ledger-api';
import type { DestinationStream } from 'pino';
import { createTestDatabase } from './database.js';
import { testEventStoreEnv } from './event-store.js';

export interface TestApp {
  app: NestFastifyApplication;
  runtime: LedgerRuntime;
  /** One key per scope, named `test-<scope>`. */
  keys: Record<Scope, string>;
  close(): Promise<void>;
}

/** The real HTTP app on a fresh database of the suite's PostgreSQL, with one key per scope. */
export interface TestAppOptions {
  clock?: Clock;
  /** Another app's database: a second instance or a restart of the service. */
  databaseUrl?: string;
  /** More configuration, as environment variables (e.g. `LEDGER_WATCHDOG: 'off'`). */
  env?: Record<string, string>;
  /** Where the service logs at level info (default: stdout, errors only); a test reads it back. */
  logStream?: DestinationStream;
  /** Request logs too (off by default). */
  requestLogging?: boolean;
}

const TEST_SCOPES: readonly Scope[] = ['admin', 'commands', 'read', 'audit', 'grant', 'debit', 'start', 'work'];

export async function startTestApp(label = 'app', options: TestAppOptions = {}): Promise<TestApp> {
  const databaseUrl = options.databaseUrl ?? (await createTestDatabase(label));
  const config = {
    ...loadConfig({
      ...(await testEventStoreEnv(databaseUrl)),
      ...options.env,
      DATABASE_URL: databaseUrl,
      LOG_LEVEL: options.logStream ? 'info' : 'error',
    }),
  };
  const runtime = await openRuntime(config, () => undefined);
  const keys = Object.fromEntries(TEST_SCOPES.map((scope) => [scope, secret()])) as Record<Scope, string>;
  const apiKeys: ApiKeyConfig[] = TEST_SCOPES.map((scope) => ({
    name: `test-${scope}`,
    secret: keys[scope],
    scopes: [scope],
  }));
  const app = await createApp({
    runtime,
    apiKeys,
    requestLogging: options.requestLogging ?? false,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.logStream ? { logStream: options.logStream } : {}),
  });
  return {
    app,
    runtime,
    keys,
    async close() {
      await app.close();
      await runtime.close();
    },
  };
}

function secret(): string {
  return `test_${randomBytes(16).toString('hex')}`;
}
