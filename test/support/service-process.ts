import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { cp, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort, SERVICE_NODE_ARGS } from '@ledger/platform';

const ROOT = process.cwd();
const CODE = ['apps', 'libs', 'projections', 'package.json', 'tsconfig.json', 'tsconfig.build.json'];
// A start on two loaded cores: migrations, the projector and the key feed catching up.
const READY_MS_MAX = 60_000;

/**
 * The service's code built as `npm start` builds it (`npm run build`: Nest needs the
 * compiler's decorator metadata), in a copy of the source tree of its own, so tests
 * that run the real service as a process never race on the checkout's `dist/`.
 */
export async function buildServiceTree(): Promise<{ tree: string; remove(): Promise<void> }> {
  const tree = await mkdtemp(join(tmpdir(), 'ledger-code-'));
  for (const entry of CODE) await cp(join(ROOT, entry), join(tree, entry), { recursive: true });
  await symlink(join(ROOT, 'node_modules'), join(tree, 'node_modules'));
  const child = spawn('npm', ['run', 'build'], { cwd: tree, env: { ...process.env, NODE_OPTIONS: '' } });
  let output = '';
  for (const stream of [child.stdout, child.stderr]) stream.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) throw new Error(`npm run build failed (${code}):\n${output}`);
  return { tree, remove: () => rm(tree, { recursive: true, force: true }) };
}

export interface ServiceProcess {
  url: string;
  child: ChildProcess;
  /** What the process printed so far (stdout and stderr, line by line). */
  output(): string;
  /** SIGKILL: no shutdown hook runs, as in a crash; resolves once the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM and the exit code. */
  stop(): Promise<number | null>;
}

/**
 * `node dist/apps/ledger-api/src/main.js` from a built tree, on `databaseUrl` (the same
 * data across restarts and replicas), listening on a free loopback port; resolves once
 * `/health/ready` answers 200.
 */
export async function startServiceProcess(
  tree: string,
  options: { databaseUrl: string; env?: Record<string, string> },
): Promise<ServiceProcess> {
  const port = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), 'ledger-data-'));
  const child = spawn(process.execPath, [...SERVICE_NODE_ARGS, 'dist/apps/ledger-api/src/main.js'], {
    cwd: tree,
    env: {
      ...process.env,
      NODE_OPTIONS: '',
      DATABASE_URL: options.databaseUrl,
      LEDGER_DATA_DIR: dataDir,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  for (const stream of [child.stdout!, child.stderr!])
    createInterface({ input: stream }).on('line', (l) => lines.push(l));
  const exited = once(child, 'exit').then(async ([code]) => {
    await rm(dataDir, { recursive: true, force: true });
    return code as number | null;
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + READY_MS_MAX;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the service exited with ${child.exitCode}:\n${lines.join('\n')}`);
    const ready = await fetch(`${url}/health/ready`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the service was not ready within ${READY_MS_MAX} ms:\n${lines.join('\n')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url,
    child,
    output: () => lines.join('\n'),
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}
