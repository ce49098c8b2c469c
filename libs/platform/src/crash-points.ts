/**
 * Named places on every path that writes, where a test can make the process die
 * as a power cut would: `LEDGER_CRASH_AT=<site>[:<nth>]` sends the process SIGKILL
 * the nth time (default the first) it reaches that site. Unset, a site is one
 * comparison with a module constant. The crash matrix (test/faults/) kills the
 * service at each of these and fails when one is never reached, so a site
 * listed here is a site proven to be survived.
 */
export const CRASH_SITES = [
  // The command executor: the idempotency record and the streams' tails have been read.
  'command.after-read-ahead',
  // A decision was taken (events and answer known), before its append.
  'command.after-decision',
  // The append is durable, its answer not yet sent.
  'command.after-append',
  // A projector batch is mapped to rows, before the transaction holding them and the checkpoint.
  'projector.before-checkpoint',
  // A projector batch and its checkpoint have committed, before anyone is told.
  'projector.after-commit',
  // The watchdog failed an overdue project (with its refund), before its sweep goes on.
  'watchdog.after-project-expired',
  // The watchdog recorded a lot's expiry, before its sweep goes on.
  'watchdog.after-lot-expired',
  // A key's revocation is appended, before this replica applied it and answered.
  'api-key.after-revoke-append',
  // The outbound dispatcher's batch committed its delivery rows, notice state and checkpoint, before it goes on
  // (reached only by a batch that owed deliveries).
  'outbound.after-record-deliveries',
  // A sender's POST was answered 2xx, before the delivery is marked succeeded.
  'outbound.after-send',
] as const;

export type CrashSite = (typeof CRASH_SITES)[number];

export interface CrashAt {
  site: CrashSite;
  nth: number;
}

/** `site[:nth]` as a target; a name not in the list is an error, never a silent no-op. */
export function parseCrashAt(value: string | undefined): CrashAt | undefined {
  if (value === undefined || value === '') return undefined;
  const match = /^([a-z.-]+)(?::([1-9][0-9]{0,5}))?$/.exec(value);
  const site = match?.[1] as CrashSite | undefined;
  if (!match || !site || !CRASH_SITES.includes(site)) {
    throw new Error(`LEDGER_CRASH_AT must be <site>[:<nth>] with a site of ${CRASH_SITES.join(', ')}; got '${value}'`);
  }
  return { site, nth: match[2] === undefined ? 1 : Number(match[2]) };
}

const TARGET = parseCrashAt(process.env.LEDGER_CRASH_AT);
let reached = 0;

/** Dies here (SIGKILL, no cleanup, no flush) when LEDGER_CRASH_AT names this site and its count. */
export function crashPoint(site: CrashSite): void {
  if (TARGET === undefined || TARGET.site !== site || ++reached < TARGET.nth) return;
  process.kill(process.pid, 'SIGKILL');
}
