import type { FastifyReply } from 'fastify';
import type { CommandResponse } from '../commands/idempotency.js';

/** A command's recorded status and body, as the response (a repeat gets the same). */
export function send(reply: FastifyReply, result: CommandResponse): Record<string, unknown> {
  void reply.status(result.status);
  return result.body;
}
