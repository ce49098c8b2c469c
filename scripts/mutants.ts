/**
 * `npm run mutants`: applies each seeded bug of test/faults/mutants/mutants.ts to a
 * temporary copy of this checkout (never the checkout itself), runs the tests that must
 * catch it, and prints killed/survived. The same tests run first on the unmutated copy:
 * a mutant only counts as killed by tests that pass without it. Exit code 1 unless every
 * mutant is killed. `-- <name>...` runs only those.
 */
import { spawn, execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { MUTANTS, PENDING, type Mutant } from '../test/faults/mutants/mutants.ts';

const ROOT = resolve(import.meta.dirname, '..');
const JEST_OPTIONS = '--experimental-vm-modules --no-warnings=ExperimentalWarning';

/** The checkout as it is on disk (uncommitted changes too), without node_modules, linked to them. */
async function copyCheckout(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ledger-mutant-'));
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT })
    .toString()
    .split('\0')
    .filter((f) => f && f !== 'node_modules');
  for (const file of files) {
    await mkdir(dirname(join(dir, file)), { recursive: true });
    await cp(join(ROOT, file), join(dir, file)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error; // deleted in the working tree
    });
  }
  await symlink(await realpath(join(ROOT, 'node_modules')), join(dir, 'node_modules'), 'dir');
  return dir;
}

/** Applies the mutant's search/replace; its anchor must occur exactly once. */
async function apply(dir: string, mutant: Mutant): Promise<void> {
  const path = join(dir, mutant.file);
  const text = await readFile(path, 'utf8');
  const count = text.split(mutant.search).length - 1;
  if (count !== 1) {
    throw new Error(
      `mutant ${mutant.name}: its anchor occurs ${count} times in ${mutant.file} (must be once): refresh it`,
    );
  }
  await writeFile(path, text.replace(mutant.search, mutant.replace));
}

/** Runs a mutant's test command in `dir`; resolves with whether it passed and its last lines. */
function runTests(
  dir: string,
  { tests, env: extra = {} }: Pick<Mutant, 'tests' | 'env'>,
): Promise<{ passed: boolean; tail: string }> {
  const [command, args, env] =
    tests[0] === 'eslint'
      ? [join(dir, 'node_modules/.bin/eslint'), tests.slice(1), {}]
      : [join(dir, 'node_modules/.bin/jest'), ['--ci', ...tests], { NODE_OPTIONS: JEST_OPTIONS }];
  return new Promise((done, fail) => {
    const child = spawn(command, args, {
      cwd: dir,
      env: { ...process.env, ...env, ...extra },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-200_000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', fail);
    child.on('exit', (code) => {
      // What failed (jest's ● headings, errors), then how the run ended.
      const lines = output.split('\n');
      const failures = lines.filter((line) => /●|Error\b|✕/.test(line)).slice(0, 30);
      done({ passed: code === 0, tail: [...failures, '...', ...lines.slice(-15)].join('\n') });
    });
  });
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const unknown = only.filter((name) => !MUTANTS.some((m) => m.name === name));
  if (unknown.length > 0)
    throw new Error(`no such mutant: ${unknown.join(', ')} (known: ${MUTANTS.map((m) => m.name)})`);
  const mutants = only.length > 0 ? MUTANTS.filter((m) => only.includes(m.name)) : MUTANTS;
  const results: {
    name: string;
    outcome: 'killed' | 'survived' | 'pending' | 'invalid';
    note: string;
    detail?: string;
  }[] = [];
  const baseline = await copyCheckout();
  try {
    for (const mutant of mutants) {
      process.stdout.write(`${mutant.name}: ${mutant.breaks}\n`);
      const clean = await runTests(baseline, mutant);
      if (!clean.passed) {
        results.push({ name: mutant.name, outcome: 'invalid', note: 'its tests fail without the mutant' });
        process.stdout.write(`${clean.tail}\n`);
        continue;
      }
      const dir = await copyCheckout();
      try {
        await apply(dir, mutant);
        const mutated = await runTests(dir, mutant);
        results.push({
          name: mutant.name,
          outcome: mutated.passed ? 'survived' : 'killed',
          note: mutant.tests.join(' '),
          detail: mutated.tail,
        });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      process.stdout.write(`  ${results.at(-1)!.outcome}\n`);
      // What caught it (or, for a survivor, how its tests ended).
      const shown = (results.at(-1)!.detail ?? '').split('\n...\n')[results.at(-1)!.outcome === 'killed' ? 0 : 1] ?? '';
      process.stdout.write(
        `${shown
          .split('\n')
          .slice(0, 12)
          .map((line) => `    ${line.trim()}`)
          .join('\n')}\n`,
      );
    }
  } finally {
    await rm(baseline, { recursive: true, force: true });
  }
  for (const pending of PENDING) results.push({ name: pending.name, outcome: 'pending', note: pending.pending });
  const width = Math.max(...results.map((r) => r.name.length));
  process.stdout.write('\nmutant'.padEnd(width + 3) + 'outcome   caught by / why\n');
  for (const r of results) process.stdout.write(`${r.name.padEnd(width + 2)}${r.outcome.padEnd(10)}${r.note}\n`);
  const count = (outcome: string) => results.filter((r) => r.outcome === outcome).length;
  process.stdout.write(
    `\n${count('killed')} killed, ${count('survived')} survived, ${count('invalid')} invalid, ${count('pending')} pending\n`,
  );
  process.exitCode = count('survived') + count('invalid') === 0 ? 0 : 1;
}

await main();
