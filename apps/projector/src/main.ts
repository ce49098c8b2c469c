import Fastify from 'fastify';
import { pino } from 'pino';
import { ConfigError, loadConfig, openRuntime } from '@ledger/ledger-api';
import { MigrationHistoryError } from '@ledger/platform';
import { Projector } from '@ledger/projections';

/**
 * The projector as its own process (production: its own deployment, any
 * number of replicas; one of them holds the locks of all projections and
 * applies them, the others stand by).
 * Serves /health/live and /health/ready (with the lag) on PORT.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const log = pino({ level: config.logLevel, name: 'projector' });
  if (!config.databaseUrl) {
    throw new ConfigError('the projector process needs DATABASE_URL (the embedded default runs it inside ledger-api)');
  }
  const runtime = await openRuntime(config, (message) => log.info(message));
  const projector = new Projector({
    pool: runtime.pool,
    connectionString: runtime.databaseUrl,
    store: runtime.eventStore,
    log,
  });
  await projector.start();

  const http = Fastify({ logger: false });
  http.get('/health/live', async () => ({ status: 'ok' }));
  http.get('/health/ready', async (_, reply) => {
    const statuses = projector.status();
    const lag = projector.lag();
    const failed = statuses.filter((s) => s.failed);
    await reply.status(failed.length > 0 ? 503 : 200).send({
      status: failed.length > 0 ? 'error' : 'ok',
      lag: { events: Number(lag.events), seconds: lag.seconds, head: Number(lag.head) },
      projections: statuses.map((s) => ({ ...s, checkpoint: Number(s.checkpoint) })),
    });
  });
  await http.listen({ port: config.port, host: config.host });
  log.info({ port: config.port }, 'projector running');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await http.close();
    await projector.stop();
    await runtime.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  process.stderr.write(
    error instanceof ConfigError
      ? `configuration error: ${error.message}\n`
      : error instanceof MigrationHistoryError
        ? `schema error: ${error.message}\n`
        : `projector failed: ${(error as Error).stack}\n`,
  );
  process.exit(error instanceof ConfigError || error instanceof MigrationHistoryError ? 2 : 1);
});
