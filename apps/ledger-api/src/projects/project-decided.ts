import type { ProjectDecision } from '@ledger/domain';
import type { Decided } from '../commands/command-executor.js';

/** A project decision as the executor appends it: both streams, and the reply as the body. */
export function projectDecided<Reply extends object>(
  projectId: string,
  decision: ProjectDecision<Reply>,
  status: number,
): Decided {
  return {
    accountId: decision.accountId,
    account: decision.account,
    projectId,
    project: decision.project,
    outcome: { status, body: { ...decision.reply } as Record<string, unknown> },
  };
}
