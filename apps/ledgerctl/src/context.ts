import { LedgerError, createLedgerClient, type Client } from '@ledger/client';

/** Exit codes, for scripts (README "ledgerctl"). */
export const EXIT = {
  ok: 0,
  /** The service refused or failed the request (4xx, 5xx): the error's code is printed. */
  refused: 1,
  /** Bad usage: a missing URL or key, a bad flag, a file that cannot be written. */
  usage: 2,
  /** The service could not be reached. */
  unreachable: 3,
  /** reconcile: the read models disagree with the log, or an invariant is violated. */
  mismatch: 4,
} as const;

/** A problem of the invocation itself, not of the service. */
export class UsageError extends Error {}

export interface GlobalOptions {
  url?: string;
  key?: string;
  json?: boolean;
}

/** What every command gets: the client, and how to print for a person or for a script (`--json`). */
export class Context {
  readonly client: Client;
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly json: boolean;

  constructor(options: GlobalOptions, env: NodeJS.ProcessEnv = process.env) {
    const baseUrl = options.url ?? env['LEDGER_URL'];
    const apiKey = options.key ?? env['LEDGER_KEY'];
    if (!baseUrl) throw new UsageError('no service URL: pass --url or set LEDGER_URL (e.g. http://localhost:3000)');
    if (!/^https?:\/\//.test(baseUrl)) throw new UsageError(`--url/LEDGER_URL must be http(s)://…, not ${baseUrl}`);
    if (!apiKey) throw new UsageError('no API key: pass --key or set LEDGER_KEY');
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.apiKey = apiKey;
    this.json = options.json ?? false;
    this.client = createLedgerClient({ baseUrl: this.baseUrl, apiKey });
  }

  /** A result: its JSON on one line with --json, else `human` (or indented JSON). */
  print(result: unknown, human?: string): void {
    if (this.json || human === undefined) {
      process.stdout.write(`${JSON.stringify(result, null, this.json ? 0 : 2)}\n`);
    } else {
      process.stdout.write(`${human}\n`);
    }
  }

  /** A progress bar belongs on a terminal, never in a script's output. */
  get interactive(): boolean {
    return !this.json && process.stderr.isTTY === true;
  }
}

/** Prints an error for a person (or as `{"error": …}` with --json) and returns the exit code. */
export function reportError(error: unknown, json: boolean): number {
  if (error instanceof LedgerError) {
    const code = error.code === 'network_error' ? EXIT.unreachable : EXIT.refused;
    const body = { status: error.status, code: error.code, message: error.message, details: error.details };
    if (json) process.stdout.write(`${JSON.stringify({ error: { ...body, requestId: error.requestId } })}\n`);
    process.stderr.write(
      `ledgerctl: ${error.code}${error.status ? ` (${error.status})` : ''}: ${error.message}` +
        `${error.details === undefined ? '' : `\n  details: ${JSON.stringify(error.details)}`}` +
        `${error.requestId ? `\n  request id: ${error.requestId}` : ''}\n`,
    );
    return code;
  }
  if (error instanceof UsageError) {
    if (json) process.stdout.write(`${JSON.stringify({ error: { code: 'usage', message: error.message } })}\n`);
    process.stderr.write(`ledgerctl: ${error.message}\n`);
    return EXIT.usage;
  }
  process.stderr.write(`ledgerctl: ${(error as Error).stack ?? String(error)}\n`);
  return EXIT.refused;
}

/** A positive integer option (an amount, a limit): refused at the edge, before any request. */
export function positiveInteger(name: string) {
  return (text: string): number => {
    if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
      throw new UsageError(`${name} must be a positive integer, not ${JSON.stringify(text)}`);
    }
    return Number(text);
  };
}

/** A position: a non-negative integer. */
export function position(text: string): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`a position is a non-negative integer, not ${JSON.stringify(text)}`);
  }
  return Number(text);
}
