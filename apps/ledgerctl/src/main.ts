import { Command, CommanderError } from 'commander';
import { accountCommands } from './accounts.js';
import { adminCommands } from './admin.js';
import { auditCommands } from './audit.js';
import { Context, EXIT, reportError, type GlobalOptions } from './context.js';

const program = new Command()
  .name('ledgerctl')
  .description('Operate the credit ledger over its HTTP API (API.md)')
  .option('--url <url>', 'the service, e.g. http://localhost:3000 (env LEDGER_URL)')
  .option('--key <key>', 'an API key (env LEDGER_KEY)')
  .option('--json', 'print results (and errors) as one JSON line, for scripts')
  .showHelpAfterError()
  .exitOverride()
  .addHelpText(
    'after',
    `
Exit codes: ${EXIT.ok} ok, ${EXIT.refused} refused by the service (the error code is printed), ${EXIT.usage} bad usage,
${EXIT.unreachable} service unreachable, ${EXIT.mismatch} reconcile found mismatches or violations.`,
  );

const contextOf = (command: Command): Context => new Context(command.optsWithGlobals<GlobalOptions>());
accountCommands(program, contextOf);
auditCommands(program, contextOf);
adminCommands(program, contextOf);
for (const command of program.commands) {
  command.exitOverride();
  for (const sub of command.commands) sub.exitOverride();
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // --help and --version end here too, with their own (zero) exit code.
    process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else {
    process.exitCode = reportError(error, program.opts<GlobalOptions>().json ?? false);
  }
}
