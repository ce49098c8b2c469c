import { MigrationHistoryError } from '@ledger/platform';
import { createApp } from './create-app.js';
import { ConfigError, loadConfig } from './config/ledger-config.js';
import { openRuntime } from './infrastructure/runtime.js';
import { resolveApiKeys } from './auth/api-keys.js';
import { startupLog } from './infrastructure/startup-log.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = startupLog(config.logLevel);
  const runtime = await openRuntime(config, (message) => log.info(message));
  const keys = await resolveApiKeys(config);
  const app = await createApp({ runtime, apiKeys: keys.keys });

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await app.close();
    await runtime.close();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  await app.listen({ port: config.port, host: config.host });
  const url = `http://localhost:${config.port}`;
  log.info({ url, eventStore: config.eventStore, embedded: runtime.embedded !== undefined }, 'ledger-api listening');
  // Shown to the person who started the service, on stdout, not in the log stream.
  process.stdout.write(`\n  ledger is running at ${url}  (docs: ${url}/docs)\n`);
  if (keys.generatedAdminSecret) {
    process.stdout.write(
      `  admin API key (shown once, kept in ${keys.adminKeyFile}):\n    ${keys.generatedAdminSecret}\n\n`,
    );
  } else if (keys.adminKeyFile) {
    process.stdout.write(`  admin API key: in ${keys.adminKeyFile}\n\n`);
  }
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`configuration error: ${error.message}\n`);
    process.exit(2);
  }
  // The database and the migration files disagree: nothing to retry, someone must look (as for a bad configuration).
  if (error instanceof MigrationHistoryError) {
    process.stderr.write(`schema error: ${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`ledger-api failed to start: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
