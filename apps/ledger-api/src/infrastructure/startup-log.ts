import { pino, type Logger } from 'pino';

/** Structured log for what happens before and after Nest runs (start, shutdown). */
export function startupLog(level: string): Logger {
  return pino({ level, name: 'ledger-api' });
}
