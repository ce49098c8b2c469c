import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startTestApp, type TestApp } from '@ledger/test-support';

const run = promisify(execFile);
const LEDGERCTL = new URL('../apps/ledgerctl/bin/ledgerctl.js', import.meta.url).pathname;

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** `ledgerctl` as a process, as an operator or a script runs it. */
describe('ledgerctl', () => {
  let t: TestApp;
  let env: NodeJS.ProcessEnv;
  let dir: string;
  beforeAll(async () => {
    t = await startTestApp('ledgerctl');
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    env = { ...process.env, LEDGER_URL: await t.app.getUrl(), LEDGER_KEY: t.keys.admin, NODE_OPTIONS: '' };
    dir = await mkdtemp(join(tmpdir(), 'ledgerctl-'));
  });
  afterAll(async () => {
    await t.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function ledgerctl(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Outcome> {
    try {
      const { stdout, stderr } = await run(process.execPath, [LEDGERCTL, ...args], { env: { ...env, ...extraEnv } });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  }
  const json = (outcome: Outcome) => {
    expect(outcome.stdout.trim().split('\n')).toHaveLength(1);
    return JSON.parse(outcome.stdout) as Record<string, unknown>;
  };

  it('grants and shows the account, for a person and with --json', async () => {
    const granted = await ledgerctl(['grant', 'ctl-1', '120', '--source', 'purchase', '--reference', 'pay-1']);
    expect(granted).toMatchObject({ code: 0, stderr: '' });
    expect(granted.stdout).toMatch(/^granted 120 to ctl-1 \(lot \S+\): balance 120, position \d+\n$/);

    const second = json(await ledgerctl(['--json', 'grant', 'ctl-1', '30', '--source', 'promo']));
    expect(second).toMatchObject({ accountId: 'ctl-1', balance: 150, position: expect.any(Number) });

    const account = json(await ledgerctl(['account', 'ctl-1', '--json', '--min-position', String(second['position'])]));
    expect(account).toMatchObject({ accountId: 'ctl-1', balance: 150, paid: 120, promotional: 30, totalGranted: 150 });
    const shown = await ledgerctl(['account', 'ctl-1', '--min-position', String(second['position'])]);
    expect(shown.stdout).toContain('balance        150 (paid 120, promotional 30)');
  });

  it('exports the whole log as NDJSON, and resumes after the last complete line', async () => {
    const file = join(dir, 'log.ndjson');
    const first = json(await ledgerctl(['export', file, '--json']));
    expect(first).toMatchObject({ file, resumed: false });
    const lines = (await readFile(file, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { position: number; type: string });
    expect(lines.length).toBe(first['events']);
    expect(lines.filter((e) => e.type === 'CreditsGranted').length).toBeGreaterThanOrEqual(2);
    expect(lines.map((e) => e.position)).toEqual([...lines.map((e) => e.position)].sort((a, b) => a - b));

    await ledgerctl(['grant', 'ctl-1', '7', '--source', 'promo']);
    // An export cut off inside a line: the partial line goes, the rest is kept.
    await appendFile(file, '{"position": 99');
    const second = json(await ledgerctl(['export', file, '--json']));
    expect(second).toMatchObject({ resumed: true });
    const all = (await readFile(file, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { position: number; data: { amount?: number } });
    expect(all.length).toBe(lines.length + (second['events'] as number));
    expect(new Set(all.map((e) => e.position)).size).toBe(all.length);
    expect(all.at(-1)?.data.amount).toBe(7);
    const human = await ledgerctl(['export', file]);
    expect(human.stdout).toMatch(/^resumed .*log\.ndjson: 0 events after position \d+/);
  });

  it('reconciles at the head of the log', async () => {
    const report = await ledgerctl(['reconcile', '--json']);
    expect(report.code).toBe(0);
    expect(json(report)).toMatchObject({ checkedAccounts: 1, mismatchCount: 0, violationCount: 0 });
    const human = await ledgerctl(['reconcile']);
    expect(human.stdout).toMatch(/^OK: 1 accounts and 0 projects checked up to position \d+/);
  });

  it('lists lots and ledger entries, and writes a statement as CSV', async () => {
    const lots = json(await ledgerctl(['lots', 'ctl-1', '--json']));
    expect((lots['items'] as { granted: number }[]).map((lot) => lot.granted).sort((a, b) => a - b)).toEqual([
      7, 30, 120,
    ]);
    const ledger = await ledgerctl(['ledger', 'ctl-1', '--limit', '2']);
    expect(ledger.stdout.split('\n')[0]).toMatch(/^position\s+at\s+type\s+amount\s+balanceAfter/);
    expect(ledger.stdout).toContain('next page: --cursor ');
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    const csv = await ledgerctl(['statement', 'ctl-1', '--from', from, '--to', to, '--csv']);
    expect(csv.code).toBe(0);
    const rows = csv.stdout.trim().split('\n');
    expect(rows).toHaveLength(4);
    expect(rows[0]).toContain('position');
  });

  it('creates, lists and revokes a key', async () => {
    const created = json(await ledgerctl(['--json', 'keys', 'create', 'ctl-reader', '--scopes', 'read']));
    expect(created).toMatchObject({ name: 'ctl-reader', scopes: ['read'], secret: expect.stringMatching(/^ldg_/) });
    const account = await ledgerctl(['account', 'ctl-1', '--json'], { LEDGER_KEY: created['secret'] as string });
    expect(json(account)).toMatchObject({ accountId: 'ctl-1' });
    const listed = await ledgerctl(['keys', 'list']);
    expect(listed.stdout).toMatch(new RegExp(`${created['keyId'] as string}\\s+ctl-reader\\s+read\\s+api`));
    const revoked = await ledgerctl(['keys', 'revoke', created['keyId'] as string, '--reason', 'test']);
    expect(revoked.stdout).toMatch(/^revoked key_\S+ at /);
    const refused = await ledgerctl(['account', 'ctl-1'], { LEDGER_KEY: created['secret'] as string });
    expect(refused.code).toBe(1);
  });

  it('rebuilds a projection and swaps it in while the service serves', async () => {
    const rebuilt = await ledgerctl(['rebuild', '-p', 'ledger_entries'], {
      DATABASE_URL: t.runtime.databaseUrl,
      LOG_LEVEL: 'info',
    });
    expect(rebuilt.code).toBe(0);
    expect(rebuilt.stdout + rebuilt.stderr).toContain('rebuilt and swapped in');
    const ledger = json(await ledgerctl(['ledger', 'ctl-1', '--json']));
    expect((ledger['items'] as unknown[]).length).toBe(3);
  });

  it('says what went wrong, with exit codes for scripts', async () => {
    const refused = await ledgerctl(['--json', 'void', 'ctl-1', 'no-such-lot', '--reason', 'test']);
    expect(refused.code).toBe(1);
    expect(json(refused)).toMatchObject({ error: { status: 404, code: 'not_found' } });
    expect(refused.stderr).toContain('ledgerctl: not_found (404)');

    const usage = await ledgerctl(['grant', 'ctl-1', 'ten']);
    expect(usage).toMatchObject({ code: 2, stderr: 'ledgerctl: amount must be a positive integer, not "ten"\n' });
    const noKey = await ledgerctl(['account', 'ctl-1'], { LEDGER_KEY: '' });
    expect(noKey).toMatchObject({ code: 2, stderr: 'ledgerctl: no API key: pass --key or set LEDGER_KEY\n' });
    const wrongKey = await ledgerctl(['account', 'ctl-1', '--key', 'nope']);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toContain('unauthenticated (401)');
  });
});
