import { pino, type Logger } from 'pino';
import { prettyTransport } from './log-format.js';

/** Structured log for what happens before and after Nest runs (start, shutdown). */
export function startupLog(level: string): Logger {
  const transport = prettyTransport();
  return pino({ level, name: 'ledger-api', ...(transport ? { transport } : {}) });
}
