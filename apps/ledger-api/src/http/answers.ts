import type { FastifyReply } from 'fastify';
import type { CommandResult } from '../commands/command-executor.js';
import { toPositionNumber, type Answer } from '../commands/idempotency.js';

/**
 * An accepted command's answer: its reply is the body, under the route's status. It is
 * recorded with the command's events, and a repeat of the key is answered with the record.
 */
function replyWith(status: number) {
  return (reply: object): Answer => ({ status, body: { ...reply } });
}

/** 201: the command added to the ledger (a grant, a debit) or started a project. */
export const created = replyWith(201);
/** 200: the command changed something that was there. */
export const ok = replyWith(200);

/** The response to a command: the answer (the recorded one for a repeat) with its `position`. */
export function send(reply: FastifyReply, result: CommandResult<unknown>): Record<string, unknown> {
  void reply.status(result.answer.status);
  return { ...result.answer.body, position: toPositionNumber(result.position) };
}
