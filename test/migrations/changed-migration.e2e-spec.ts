import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { appendFile, cp, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createTestDatabase } from '@ledger/test-support';

// The service is built and run from a copy of the source tree, so the test can
// edit a migration file without touching this one.
const ROOT = process.cwd();
const CODE = ['apps', 'libs', 'projections', 'package.json', 'tsconfig.json', 'tsconfig.build.json'];
const EDITED = 'libs/event-store/src/postgres/migrations/0002_append_group.sql';

/**
 * The real service, as `npm start` runs it (`npm run build`, then
 * `node dist/apps/ledger-api/src/main.js`; Nest needs the compiler's decorator
 * metadata), on a database it migrated, after an applied migration file was
 * edited: it must refuse to run, with exit code 2 and the file named.
 */
describe('a migration file changed after it was applied', () => {
  let tree: string;
  beforeAll(async () => {
    tree = await mkdtemp(join(tmpdir(), 'ledger-code-'));
    for (const entry of CODE) await cp(join(ROOT, entry), join(tree, entry), { recursive: true });
    await symlink(join(ROOT, 'node_modules'), join(tree, 'node_modules'));
  });
  afterAll(() => rm(tree, { recursive: true, force: true }));

  it('stops the next start of the service with exit code 2, naming the file', async () => {
    const databaseUrl = await createTestDatabase('changed_migration');
    const dataDir = await mkdtemp(join(tmpdir(), 'ledger-data-'));
    try {
      await build(tree);
      const first = startService(tree, databaseUrl, dataDir);
      await first.running;
      first.child.kill('SIGTERM');
      expect(await first.exitCode).toBe(0);

      await appendFile(join(tree, EDITED), '-- a comment added after the file was applied\n');
      await build(tree);
      const second = startService(tree, databaseUrl, dataDir);
      expect(await second.exitCode).toBe(2);
      expect(second.output()).toContain('event_store migration 0002_append_group changed after it was applied');
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
    // A bound, not a wait: two full builds (tsc) while other suites share CI's two cores
    // took over 120 s in some full runs (15-20 s alone).
  }, 300_000);
});

/** `npm run build` in the tree: compiles, and copies the migration files into dist/. */
async function build(cwd: string): Promise<void> {
  const child = spawn('npm', ['run', 'build'], { cwd, env: { ...process.env, NODE_OPTIONS: '' } });
  let output = '';
  for (const stream of [child.stdout, child.stderr]) stream.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const [code] = await once(child, 'close');
  if (code !== 0) throw new Error(`npm run build failed (${code}):\n${output}`);
}

function startService(cwd: string, databaseUrl: string, dataDir: string) {
  const child = spawn(process.execPath, ['dist/apps/ledger-api/src/main.js'], {
    cwd,
    env: {
      ...process.env,
      NODE_OPTIONS: '',
      DATABASE_URL: databaseUrl,
      LEDGER_DATA_DIR: dataDir,
      LEDGER_API_KEYS: 'admin:changed-migration-test-secret-0123456789:admin',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let signalRunning!: () => void;
  const running = new Promise<void>((resolve) => (signalRunning = resolve));
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      lines.push(line);
      if (line.includes('ledger is running at')) signalRunning();
    });
  }
  const exitCode = once(child, 'close').then(([code]) => code as number | null);
  // 'close': the process ended and its output is all read. A start that fails
  // never prints the line: the wait fails then, with what the process printed.
  const started = Promise.race([
    running,
    exitCode.then((code) => {
      throw new Error(`the service exited with ${code} before running:\n${lines.join('\n')}`);
    }),
  ]);
  // Settled by whichever comes first; the other must not surface as an unhandled rejection.
  started.catch(() => undefined);
  return { child, running: started, exitCode, output: () => lines.join('\n') };
}
