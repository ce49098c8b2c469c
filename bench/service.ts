import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { freePort, SERVICE_NODE_ARGS } from '@ledger/platform';

export const BENCH_KEY = 'bench-admin-secret-0123456789abcdef';

export interface BenchService {
  url: string;
  databaseUrl: string;
  pid: number;
  /** Peak resident memory of the service process so far (VmHWM), in MB. */
  peakRssMb(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * `ledger-api` as its own process on a fresh embedded PostgreSQL, as `npm start` runs it;
 * or on the database at `databaseUrl` (as with `DATABASE_URL`), which it migrates.
 */
export async function startService(
  options: { databaseUrl?: string; readyTimeoutMs?: number } = {},
): Promise<BenchService> {
  const dataDir = await mkdtemp(join(tmpdir(), 'ledger-bench-svc-'));
  await chmod(dataDir, 0o755);
  const port = await freePort();
  // BENCH_SERVICE_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=prof") profiles the service under load.
  const nodeArgs = (process.env.BENCH_SERVICE_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...SERVICE_NODE_ARGS, ...nodeArgs, 'dist/apps/ledger-api/src/main.js'], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      LEDGER_DATA_DIR: dataDir,
      // The bench measures the service, not its rate limit: its one key may go as fast as a key can.
      LEDGER_API_KEYS: `bench:${BENCH_KEY}:admin:100000`,
      LOG_LEVEL: process.env.BENCH_SERVICE_LOG_LEVEL ?? 'warn',
      // The outbound bench's receiver listens on loopback.
      LEDGER_OUTBOUND_ALLOW_PRIVATE: 'true',
      ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}),
      NODE_ENV: 'production',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitReady(child, url, options.readyTimeoutMs);
  let databaseUrl = options.databaseUrl;
  if (databaseUrl === undefined) {
    const owner = JSON.parse(await readFile(join(dataDir, 'postgres', 'owner.json'), 'utf8')) as { url: string };
    const embedded = new URL(owner.url);
    embedded.pathname = '/ledger';
    databaseUrl = embedded.toString();
  }
  return {
    url,
    databaseUrl,
    pid: child.pid!,
    peakRssMb: async () => {
      // Once the process is gone (it exited, or ran out of memory), its figure is 0.
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8').catch(() => '');
      const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
      return kb / 1024;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function waitReady(child: ChildProcess, url: string, timeoutMs = 60_000): Promise<void> {
  // Drain stdout so the child never blocks on a full pipe; BENCH_SERVICE_LOG=<file> keeps it (why a service died).
  const kept = process.env.BENCH_SERVICE_LOG
    ? createWriteStream(process.env.BENCH_SERVICE_LOG, { flags: 'a' })
    : undefined;
  createInterface({ input: child.stdout! }).on('line', (line) => kept?.write(`${line}\n`));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the service exited with ${child.exitCode}`);
    const ready = await fetch(`${url}/health/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return;
    await delay(100);
  }
  throw new Error(`the service did not get ready within ${timeoutMs / 1000} s`);
}

/** A server of this folder in its own process: it prints the port it listens on. */
export interface HelperProcess {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

async function startHelper(script: string, env: Record<string, string> = {}): Promise<HelperProcess> {
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  let port = 0;
  for await (const line of lines) {
    port = Number(line);
    break;
  }
  if (!port) throw new Error(`${script} exited before it listened`);
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/** The raw HTTP ceiling server, in its own process. */
export function startHttpCeiling(): Promise<HelperProcess> {
  return startHelper('dist/bench/http-ceiling-server.js');
}

/**
 * The conventional design (bench/conventional-server.ts) in its own process, on its own
 * database of the same PostgreSQL, with `accounts` funded as the service's bench accounts are.
 */
export async function startConventional(databaseUrl: string, accounts: readonly string[]): Promise<HelperProcess> {
  const server = await startHelper('dist/bench/conventional-server.js', {
    DATABASE_URL: databaseUrl,
    CONVENTIONAL_API_KEY: BENCH_KEY,
  });
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(
      `INSERT INTO accounts (id, balance) SELECT unnest($1::text[]), 1000000000000 ON CONFLICT (id) DO NOTHING`,
      [accounts],
    );
  } finally {
    await client.end();
  }
  return server;
}

/** Resident memory of a process now (VmRSS), in MB; 0 once it is gone. */
export async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** Samples a process's resident memory every 100 ms until stopped; answers the peak seen, in MB. */
export function watchRss(pid: number): { stop(): Promise<number> } {
  let peak = 0;
  let sampling = Promise.resolve();
  const timer = setInterval(() => {
    sampling = sampling.then(async () => {
      peak = Math.max(peak, await rssMb(pid));
    });
  }, 100);
  return {
    async stop() {
      clearInterval(timer);
      await sampling;
      return Math.max(peak, await rssMb(pid));
    },
  };
}

/** The accounts the load scenarios use (load.ts): `bench-0` … `bench-999` and `bench-hot`. */
export function benchAccounts(count = 1000): string[] {
  return [...Array.from({ length: count }, (_, i) => `bench-${i}`), 'bench-hot'];
}

/** Funds the load scenarios' accounts through the service, so no start is refused for credits. */
export async function seedAccounts(service: BenchService, count = 1000): Promise<void> {
  const ids = benchAccounts(count);
  for (let i = 0; i < ids.length; i += 50) {
    await Promise.all(
      ids.slice(i, i + 50).map(async (id) => {
        await timedPost(
          service,
          `/v1/accounts/${id}/grants`,
          { amount: 1_000_000_000_000, source: 'migration' },
          `seed-${id}`,
        );
      }),
    );
  }
}

/** A command through the service over HTTP, expecting 201; answers how long it took, in ms. */
export async function timedPost(
  service: { url: string },
  path: string,
  body: object,
  idempotencyKey: string = randomUUID(),
): Promise<number> {
  const started = performance.now();
  const response = await fetch(`${service.url}${path}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${BENCH_KEY}`,
      'content-type': 'application/json',
      'idempotency-key': idempotencyKey,
    },
    body: JSON.stringify(body),
  });
  if (response.status !== 201) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return performance.now() - started;
}

/** A new empty database `name` next to the one at `serverDatabaseUrl` (dropped first if it exists). */
export async function createDatabase(serverDatabaseUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: serverDatabaseUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(serverDatabaseUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
