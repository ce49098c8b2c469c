import { createReadStream, createWriteStream } from 'node:fs';
import { open, stat, truncate } from 'node:fs/promises';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { LedgerError, auditReconcile, createLedgerClient, retryingFetch, unwrap } from '@ledger/client';
import { EXIT, UsageError, position, positiveInteger, type Context } from './context.js';

type ContextOf = (command: Command) => Context;

const NDJSON = 'application/x-ndjson';
/** Events asked for in one request of an export: a bound on each response, not on the export. */
const EXPORT_CHUNK_EVENTS = 50_000;
const RECONCILE_WAIT_MS = 1_000;

/** export and reconcile: the audit API (scope `audit`). */
export function auditCommands(program: Command, contextOf: ContextOf): void {
  program
    .command('export')
    .description(
      'the whole log as NDJSON (one event a line, in global order) into a file; run again to resume where it stopped',
    )
    .argument('<file>')
    .option(
      '--from <position>',
      'start after this position, into a new file (default: resume the file, or 0)',
      position,
    )
    .option('--chunk <events>', 'events per request', positiveInteger('chunk'), EXPORT_CHUNK_EVENTS)
    .action(async (file: string, options: { from?: number; chunk: number }, cmd) => {
      const context = contextOf(cmd);
      const start = options.from === undefined ? await resumePoint(file) : { after: options.from, resumed: false };
      const result = await exportLog(context, file, start.after, start.resumed, options.chunk);
      context.print(
        { file, ...result, resumed: start.resumed },
        `${start.resumed ? 'resumed' : 'wrote'} ${file}: ${result.events} events after position ${start.after}, up to ${result.lastPosition}`,
      );
    });

  program
    .command('reconcile')
    .description('compare the read models with a fold of the log, and check the invariants, at the head of the log')
    .option(
      '--min-position <position>',
      'check at least up to this position (default: the head of the log now)',
      position,
    )
    .option('--timeout <seconds>', 'how long to wait for the read models to reach it', positiveInteger('timeout'), 60)
    .action(async (options: { minPosition?: number; timeout: number }, cmd) => {
      const context = contextOf(cmd);
      const target = options.minPosition ?? (await headPosition(context));
      const report = await reconcileAt(context, target, options.timeout * 1000);
      const clean = report.mismatchCount === 0 && report.violationCount === 0;
      context.print(
        report,
        [
          `${clean ? 'OK' : 'PROBLEMS'}: ${report.checkedAccounts} accounts and ${report.checkedProjects} projects checked up to position ${report.position}`,
          `  mismatches ${report.mismatchCount}, invariant violations ${report.violationCount}`,
          ...report.mismatches.slice(0, 20).map((m) => `  mismatch ${JSON.stringify(m)}`),
          ...report.violations.slice(0, 20).map((v) => `  violation ${v.invariant} ${v.id}: ${v.message}`),
        ].join('\n'),
      );
      if (!clean) process.exitCode = EXIT.mismatch;
    });
}

/** Where an existing export stopped: after its last complete line (a partial last line is cut off). */
async function resumePoint(file: string): Promise<{ after: number; resumed: boolean }> {
  const size = await stat(file).then(
    (s) => s.size,
    () => 0,
  );
  if (size === 0) return { after: 0, resumed: false };
  let last: string | undefined;
  let completeBytes = 0;
  let bytes = 0;
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  for await (const line of lines) {
    bytes += Buffer.byteLength(line) + 1;
    if (bytes > size) break; // the last line had no newline: the export stopped inside it
    completeBytes = bytes;
    if (line.trim() !== '') last = line;
  }
  if (completeBytes < size) await truncate(file, completeBytes);
  if (last === undefined) return { after: 0, resumed: false };
  let after: unknown;
  try {
    after = (JSON.parse(last) as { position?: unknown }).position;
  } catch {
    throw new UsageError(
      `${file} is not an export of ledgerctl (its last line is not JSON); use --from or another file`,
    );
  }
  if (typeof after !== 'number') throw new UsageError(`${file}: its last line has no position; use --from`);
  return { after, resumed: true };
}

async function exportLog(context: Context, file: string, after: number, append: boolean, chunk: number) {
  const handle = await open(file, append ? 'a' : 'w').catch((error: Error) => {
    throw new UsageError(`cannot write ${file}: ${error.message}`);
  });
  const out = createWriteStream('', { fd: handle.fd, autoClose: false });
  const bar = context.interactive
    ? new SingleBar(
        { format: 'export {bar} {percentage}% | position {value}/{total} | {events} events', stream: process.stderr },
        Presets.shades_classic,
      )
    : undefined;
  let events = 0;
  let lastPosition = after;
  try {
    for (;;) {
      const response = await auditStream(context, lastPosition, chunk);
      const upTo = Number(response.headers.get('x-audit-up-to') ?? lastPosition);
      if (bar && events === 0) bar.start(Math.max(upTo, 1), lastPosition, { events });
      bar?.setTotal(Math.max(upTo, 1));
      let inChunk = 0;
      const lines = createInterface({
        input: Readable.fromWeb(response.body as WebReadableStream),
        crlfDelay: Infinity,
      });
      for await (const line of lines) {
        if (line === '') continue;
        lastPosition = (JSON.parse(line) as { position: number }).position;
        if (!out.write(`${line}\n`)) await once(out, 'drain');
        inChunk += 1;
        events += 1;
        bar?.update(lastPosition, { events });
      }
      if (inChunk < chunk) {
        bar?.update(Math.max(upTo, 1), { events });
        break;
      }
    }
  } finally {
    bar?.stop();
    out.end();
    await once(out, 'finish');
    await handle.close();
  }
  return { events, lastPosition };
}

/** The log after `after` as NDJSON, through the client's retries. */
async function auditStream(context: Context, after: number, limit: number): Promise<Response> {
  const url = `${context.baseUrl}/v1/audit/events?fromPosition=${after}&limit=${limit}`;
  let response: Response;
  try {
    response = await retryingFetch()(url, { headers: { authorization: `Bearer ${context.apiKey}`, accept: NDJSON } });
  } catch (error) {
    throw new LedgerError(0, 'network_error', `the ledger could not be reached: ${(error as Error).message}`);
  }
  if (!response.ok || !response.body) {
    await unwrap(Promise.resolve({ error: await response.json().catch(() => undefined), response }));
  }
  return response;
}

async function headPosition(context: Context): Promise<number> {
  const response = await auditStream(context, 0, 1);
  await response.body?.cancel();
  return Number(response.headers.get('x-audit-up-to') ?? 0);
}

/** Waits (showing the read models' progress) until they reach `target`, then reconciles there. */
async function reconcileAt(context: Context, target: number, timeoutMs: number) {
  // Each wait is a request of its own, so the bar moves: no retries underneath.
  const client = createLedgerClient({ baseUrl: context.baseUrl, apiKey: context.apiKey, retry: { attemptsMax: 1 } });
  const bar = context.interactive
    ? new SingleBar(
        { format: 'reconcile: read models at {value}/{total} {bar} {percentage}%', stream: process.stderr },
        Presets.shades_classic,
      )
    : undefined;
  bar?.start(Math.max(target, 1), 0);
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      try {
        const report = await unwrap(
          auditReconcile({ client, query: { minPosition: target, waitMs: RECONCILE_WAIT_MS } }),
        );
        bar?.update(Math.max(target, 1));
        return report;
      } catch (error) {
        const behind = error instanceof LedgerError && error.code === 'projection_behind';
        if (!behind || Date.now() >= deadline) throw error;
        bar?.update(Number((error.details as { position?: number } | undefined)?.position ?? 0));
      }
    }
  } finally {
    bar?.stop();
  }
}
