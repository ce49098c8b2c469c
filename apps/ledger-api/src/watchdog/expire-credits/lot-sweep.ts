import assert from 'node:assert';
import type pg from 'pg';
import { crashPoint } from '@ledger/platform';
import { lotsTable, type LotDueForExpiry } from '@ledger/projections';
import type { CommandExecutor } from '../../commands/command-executor.js';
import { ok } from '../../http/answers.js';
import { expireLotContext } from './expire-lot-context.js';
import { expireCredits } from './expire-credits.handler.js';

/** A sweep's bound on lots: more due lots wait for the next sweep (one interval later). */
export const DUE_LOTS_LIMIT_MAX = 500;
// Lots of one sweep run side by side; the executor serialises those of one account.
const EXPIRE_CONCURRENCY_MAX = 4;

export interface LotSweepResult {
  /** Candidates the lots read model offered: active, past `expiresAt`, credits remaining. */
  due: number;
  /** Of those, the lots whose expiry this sweep recorded. */
  expired: number;
  errors: number;
  lastError: string | null;
}

/**
 * Records CreditsExpired for the lots past their expiry at `now`, through the command path
 * like any caller. The read model (an index on expires_at) only proposes: each decision
 * reads the account's own lots, so a lagging read model costs a command, never a wrong
 * expiry. A refusal or an outage is left to the next sweep.
 */
export async function sweepDueLots(
  db: pg.Pool,
  commands: CommandExecutor,
  options: { now: Date; correlationId: string; signal: AbortSignal; limit?: number },
  onError: (error: unknown, lot: LotDueForExpiry) => void,
): Promise<LotSweepResult> {
  const limit = options.limit ?? DUE_LOTS_LIMIT_MAX;
  assert(Number.isSafeInteger(limit) && limit >= 1 && limit <= DUE_LOTS_LIMIT_MAX);
  const due = await lotsTable.dueForExpiry(db, options.now, limit);
  const result: LotSweepResult = { due: due.length, expired: 0, errors: 0, lastError: null };
  let next = 0;
  const worker = async () => {
    while (next < due.length && !options.signal.aborted) {
      const lot = due[next++]!;
      try {
        const command = { type: 'ExpireCredits', accountId: lot.accountId, grantId: lot.grantId } as const;
        const outcome = await commands.execute(
          expireLotContext(lot, options.correlationId),
          expireCredits,
          command,
          ok,
        );
        crashPoint('watchdog.after-lot-expired');
        if (!outcome.replayed && (outcome.decision.account ?? []).length > 0) result.expired++;
      } catch (error) {
        result.errors++;
        result.lastError = `${lot.accountId}/${lot.grantId}: ${(error as Error).message}`;
        onError(error, lot);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(EXPIRE_CONCURRENCY_MAX, due.length) }, worker));
  return result;
}
