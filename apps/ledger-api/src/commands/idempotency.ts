import { createHash, randomUUID } from 'node:crypto';
import { idempotencyStream } from '@ledger/domain';
import type { EventStore, EventToAppend, StoredEvent } from '@ledger/event-store';
import { ApiError } from '../errors/api-error.js';

/** Who sent a command and under which key; what makes a repeat recognisable. */
export interface CommandContext {
  /** API key name: idempotency keys are scoped per API key. */
  caller: string;
  idempotencyKey: string;
  /** Hash of method, path and body: the same key with another request is refused. */
  requestHash: string;
  correlationId: string;
  /** The HTTP request's id (logs, error bodies): a refusal is kept with it, so a repeat answers the same body. */
  requestId?: string;
}

/**
 * What a command answers its caller, as its idempotency record keeps it for repeats:
 * the status and the body without `position` (the record's own position is added).
 */
export interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** An accepted command's answer and the position of its record, the command's last event. */
export interface RecordedAnswer {
  answer: Answer;
  position: bigint;
}

export const COMMAND_RECORDED = 'CommandRecorded';

/** SHA-256 over method, path and the body with its keys sorted: equal requests, equal hashes. */
export function requestHash(method: string, path: string, body: unknown): string {
  return createHash('sha256')
    .update(`${method}\n${path}\n${canonicalJson(body ?? null)}`)
    .digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Durable idempotency. The accepted command's record is appended in the same
 * atomic append as its events, to a stream named from the caller and the key,
 * expecting that stream not to exist: a repeat conflicts there, finds the
 * record and answers with it. It survives restarts because it is an event.
 */
export class IdempotencyRecords {
  constructor(private readonly store: EventStore) {}

  streamOf(context: CommandContext): string {
    return idempotencyStream(context.caller, context.idempotencyKey);
  }

  /** The recorded answer of an earlier accepted request with this key, if any (422 if it differs). */
  async find(context: CommandContext): Promise<RecordedAnswer | undefined> {
    const [record] = await this.store.readStream(this.streamOf(context), { limit: 1 });
    return this.acceptanceOf(record, context);
  }

  /** The same, from a record read elsewhere (with other streams, in one round trip). */
  acceptanceOf(record: StoredEvent | undefined, context: CommandContext): RecordedAnswer | undefined {
    if (!record) return undefined;
    const data = record.data as { requestHash: string; status: number; body: string };
    if (data.requestHash !== context.requestHash) throw keyReused();
    return {
      answer: { status: data.status, body: JSON.parse(data.body) as Answer['body'] },
      position: record.position,
    };
  }

  record(context: CommandContext, answer: Answer, metadata: Record<string, string>): EventToAppend {
    return {
      id: randomUUID(),
      type: COMMAND_RECORDED,
      data: {
        caller: context.caller,
        idempotencyKey: context.idempotencyKey,
        requestHash: context.requestHash,
        status: answer.status,
        // As text: a JSON store may reorder an object's keys, and a repeat gets the same bytes.
        body: JSON.stringify(answer.body),
      },
      metadata,
    };
  }
}

/** The same key with another request: refused whether the first was accepted or refused. */
export function keyReused(): ApiError {
  return new ApiError(422, 'idempotency_key_reused', 'this Idempotency-Key was already used with a different request');
}

export function toPositionNumber(position: bigint): number {
  const value = Number(position);
  if (!Number.isSafeInteger(value)) throw new Error(`position ${position} is beyond a safe JSON integer`);
  return value;
}
