/**
 * `npm run soak -- --minutes N`: the service as a real process under a mixed workload while
 * it is SIGKILLed (and its database with it every third time), with a bank check every 10 s
 * and the clients' model compared with the ledger at the end (test/faults/soak.ts). Prints
 * ONE JSON line on stdout (progress goes to stderr, as a bar on a terminal); exits 1 when any
 * money or invariant check failed, 2 when the run itself could not be carried out.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import cliProgress from 'cli-progress';
import { SOAK_DEFAULTS, Soak, failures, type SoakProgress } from '../test/faults/soak.ts';

const positive = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number`);
  return n;
};
const whole = (name: string) => (value: string) => {
  const n = positive(name)(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`${name} must be a whole number`);
  return n;
};

const program = new Command('soak')
  .description('The ledger under load and faults; one JSON line of results')
  .option('--minutes <n>', 'how long the load runs', positive('--minutes'), 5)
  .option(
    '--kill-every <seconds>',
    'the longest a service process lives before SIGKILL',
    positive('--kill-every'),
    SOAK_DEFAULTS.killEverySeconds,
  )
  .option(
    '--database-kill-every <n>',
    'every nth death of the service takes PostgreSQL with it',
    whole('--database-kill-every'),
    SOAK_DEFAULTS.databaseKillEvery,
  )
  .option(
    '--arm-every <n>',
    'once every crash site was died at, every nth start arms one (the others run until their kill)',
    whole('--arm-every'),
    SOAK_DEFAULTS.armEvery,
  )
  .option('--clients <n>', 'clients sending commands side by side', whole('--clients'), SOAK_DEFAULTS.clients)
  .option('--rate <n>', 'commands a second, all clients together', positive('--rate'), SOAK_DEFAULTS.ratePerSecond)
  // A bad flag is a run that could not be carried out (2), not a failed check (1).
  .exitOverride((error: CommanderError) => process.exit(error.exitCode === 0 ? 0 : 2));
const options = program.parse().opts<{
  minutes: number;
  killEvery: number;
  databaseKillEvery: number;
  armEvery: number;
  clients: number;
  rate: number;
}>();

const bar = process.stderr.isTTY
  ? new cliProgress.SingleBar(
      {
        format:
          'soak [{bar}] {value}/{total} s {phase} | {commands} commands | kills {kills}, db {dbKills}, crash sites {siteDeaths}',
        stream: process.stderr,
      },
      cliProgress.Presets.shades_classic,
    )
  : undefined;
let lastLogged = -1;
const onProgress = (p: SoakProgress) => {
  const payload = {
    phase: p.phase,
    commands: p.commandsSent,
    kills: p.serviceKills,
    dbKills: p.databaseKills,
    siteDeaths: p.crashSiteDeaths,
  };
  if (bar) {
    if (!bar.isActive) bar.start(p.totalSeconds, 0, payload);
    bar.update(Math.min(p.elapsedSeconds, p.totalSeconds), payload);
  } else if (p.phase === 'final' || p.elapsedSeconds - lastLogged >= 30) {
    lastLogged = p.elapsedSeconds;
    process.stderr.write(`soak: ${p.elapsedSeconds}/${p.totalSeconds} s ${p.phase} ${JSON.stringify(payload)}\n`);
  }
};

const soak = new Soak({
  minutes: options.minutes,
  killEverySeconds: options.killEvery,
  databaseKillEvery: options.databaseKillEvery,
  armEvery: options.armEvery,
  clients: options.clients,
  ratePerSecond: options.rate,
  onProgress,
});
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    bar?.stop();
    void soak.dispose().finally(() => process.exit(130));
  });
}
try {
  const report = await soak.run();
  bar?.stop();
  const failed = failures(report);
  process.stdout.write(`${JSON.stringify({ ok: failed.length === 0, failures: failed, ...report })}\n`);
  process.exitCode = failed.length === 0 ? 0 : 1;
} catch (error) {
  bar?.stop();
  // Interrupted: the run ends as its processes were ended, with 130.
  if (interrupted) await new Promise<never>(() => undefined);
  process.stderr.write(`soak: the run could not be carried out: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 2;
} finally {
  await soak.dispose();
}
// Nothing of the run may keep the process: its children are gone, its pools closed.
process.exit();
