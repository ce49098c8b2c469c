import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runsCluster, stopStalePostmaster } from './embedded-postgres.js';

/**
 * A killed server's pid in `postmaster.pid` may since belong to any other process: only a
 * server of that very cluster is stopped. A process started with `-D <dir>` stands in for
 * a server (the check reads the command line, not the program).
 */
describe('stopStalePostmaster: stops only the server of its own cluster', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stale-postmaster-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  async function standIn(clusterDir: string) {
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', '--', '-D', clusterDir], {
      stdio: 'ignore',
    });
    await once(child, 'spawn');
    return child;
  }

  async function pidFile(clusterDir: string, pid: number) {
    await mkdir(clusterDir, { recursive: true });
    await writeFile(join(clusterDir, 'postmaster.pid'), `${pid}\n${clusterDir}\n`);
  }

  it('leaves alone a live process that reused the pid of a killed server', async () => {
    const cluster = join(dir, 'pg');
    const other = await standIn(join(dir, 'another-cluster'));
    try {
      await pidFile(cluster, other.pid!);
      expect(await runsCluster(other.pid!, cluster)).toBe(false);
      await stopStalePostmaster(cluster);
      expect(other.exitCode).toBeNull();
      expect(other.signalCode).toBeNull();
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('stops a server of this cluster left running by a killed process', async () => {
    const cluster = join(dir, 'pg');
    const server = await standIn(cluster);
    const exited = once(server, 'exit');
    await pidFile(cluster, server.pid!);
    expect(await runsCluster(server.pid!, cluster)).toBe(true);
    await stopStalePostmaster(cluster);
    const [, signal] = await exited;
    expect(signal).toBe('SIGINT');
  });
});
