/**
 * The KurrentDB double as a process, to try the whole service on it by hand:
 *
 *   npm run kurrentdb:double -- --port 2113
 *   LEDGER_EVENT_STORE=kurrentdb EVENTSTORE_CONNECTION_STRING='kurrentdb://127.0.0.1:2113?tls=false' npm start
 *
 * In memory: everything is gone when it stops. What it cannot prove: see kurrentdb-double.ts.
 */
import { Command, InvalidArgumentError } from 'commander';
import { DOUBLE_DEFAULT_VERSION, KurrentDbDouble } from './kurrentdb-double.js';

function port(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65_535) throw new InvalidArgumentError('not a port');
  return parsed;
}

const options = new Command()
  .name('kurrentdb:double')
  .description('An in-memory test double of a KurrentDB server (the subset the ledger uses), over gRPC without TLS')
  .option('--port <port>', 'port to listen on (0: any free one)', port, 2113)
  .option('--host <host>', 'address to listen on', '127.0.0.1')
  .option('--server-version <version>', 'the version it reports', DOUBLE_DEFAULT_VERSION)
  .parse()
  .opts<{ port: number; host: string; serverVersion: string }>();

const double = await KurrentDbDouble.start({
  port: options.port,
  host: options.host,
  serverVersion: options.serverVersion,
});
process.stdout.write(
  `KurrentDB double (reports ${options.serverVersion}) listening: ${double.connectionString}\n` +
    `try: LEDGER_EVENT_STORE=kurrentdb EVENTSTORE_CONNECTION_STRING='${double.connectionString}' npm start\n`,
);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void double.stop().then(() => process.exit(0));
  });
}
