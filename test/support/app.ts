import { randomBytes } from 'node:crypto';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import {
  createApp,
  loadConfig,
  openRuntime,
  type ApiKeyConfig,
  type Clock,
  type LedgerRuntime,
} from '@ledger/ledger-api';
import { createTestDatabase } from './database.js';

export interface TestApp {
  app: NestFastifyApplication;
  runtime: LedgerRuntime;
  keys: Record<'admin' | 'commands' | 'read' | 'audit', string>;
  close(): Promise<void>;
}

/** The real HTTP app on a fresh database of the suite's PostgreSQL, with one key per scope. */
export interface TestAppOptions {
  clock?: Clock;
  /** Another app's database: a second instance or a restart of the service. */
  databaseUrl?: string;
  /** More configuration, as environment variables (e.g. `LEDGER_WATCHDOG: 'off'`). */
  env?: Record<string, string>;
}

export async function startTestApp(label = 'app', options: TestAppOptions = {}): Promise<TestApp> {
  const databaseUrl = options.databaseUrl ?? (await createTestDatabase(label));
  const config = { ...loadConfig({ ...options.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' }) };
  const runtime = await openRuntime(config, () => undefined);
  const keys = {
    admin: secret(),
    commands: secret(),
    read: secret(),
    audit: secret(),
  };
  const apiKeys: ApiKeyConfig[] = Object.entries(keys).map(([scope, value]) => ({
    name: `test-${scope}`,
    secret: value,
    scopes: [scope as ApiKeyConfig['scopes'][number]],
  }));
  const app = await createApp({
    runtime,
    apiKeys,
    requestLogging: false,
    ...(options.clock ? { clock: options.clock } : {}),
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
