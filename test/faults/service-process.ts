import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { cp, glob, mkdtemp, realpath, rm, symlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import { SERVICE_NODE_ARGS } from '@ledger/platform';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'node_modules/.bin');

/**
 * The service built as `npm start` builds it (tsc, path aliases rewritten, migrations
 * copied), into a folder of its own, so a test runs the real process: the decorators'
 * metadata Nest needs is emitted only by tsc, not by tsx.
 */
export async function buildService(): Promise<{ main: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'ledger-faults-build-'));
  // Packages resolve from the build's folder upwards: give it the checkout's.
  await symlink(await realpath(join(ROOT, 'node_modules')), join(dir, 'node_modules'), 'dir');
  const out = join(dir, 'dist');
  const options = { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '' }, maxBuffer: 16 << 20 };
  await run(join(BIN, 'tsc'), ['-p', 'tsconfig.build.json', '--outDir', out], options);
  await run(join(BIN, 'tsc-alias'), ['-p', 'tsconfig.build.json', '--outDir', out], options);
  for await (const file of glob('{apps,libs,projections}/**/migrations/*.sql', { cwd: ROOT })) {
    await cp(join(ROOT, file), join(out, file));
  }
  return {
    main: join(out, 'apps/ledger-api/src/main.js'),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

export interface ServiceProcess {
  url: string;
  child: ChildProcess;
  /** How it ended: its exit code, or the signal that ended it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM (a clean stop) and its end. */
  stop(): Promise<void>;
}

/**
 * Starts the built service on `databaseUrl` with `env` added; resolves once it listens.
 * `onSpawn` gets the process at once, so a caller can end it even if it never listens.
 */
export async function startService(
  main: string,
  databaseUrl: string,
  env: Record<string, string>,
  onSpawn?: (child: ChildProcess) => void,
): Promise<ServiceProcess> {
  const port = await freePort();
  const child = spawn(join(BIN, 'node'), [...SERVICE_NODE_ARGS, main], {
    env: {
      ...process.env,
      NODE_OPTIONS: '',
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'error',
      // Compiled code cached on disk: a crash case is mostly a start, and most of a start is compiling.
      NODE_COMPILE_CACHE: join(dirname(main), '.compile-cache'),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  onSpawn?.(child);
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const listening = (async () => {
    for await (const line of createInterface({ input: child.stdout! }))
      if (line.includes('ledger is running at')) return;
  })();
  const started = await Promise.race([listening.then(() => true), exited.then(() => false)]);
  if (!started) {
    const { code, signal } = await exited;
    throw new Error(`the service ended before it listened (code ${code}, signal ${signal}): ${stderr}`);
  }
  child.stdout!.resume();
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}
