import { isIdempotencyStream } from '@ledger/domain';
import type { StoredEvent } from '@ledger/event-store';
import { toPositionNumber } from '../commands/idempotency.js';

/** An event of one stream, as stored: what `GET /v1/audit/streams/{streamName}` lists. */
export function toStreamItem(event: StoredEvent) {
  return {
    revision: toPositionNumber(event.revision),
    position: toPositionNumber(event.position),
    id: event.id,
    type: event.type,
    data: event.data,
    metadata: event.metadata,
    at: event.createdAt.toISOString(),
  };
}

/** An event of the global log, as stored: what `GET /v1/audit/events` lists and streams. */
export function toLogItem(event: StoredEvent) {
  return {
    position: toPositionNumber(event.position),
    streamName: event.streamName,
    revision: toPositionNumber(event.revision),
    id: event.id,
    type: event.type,
    data: event.data,
    metadata: event.metadata,
    at: event.createdAt.toISOString(),
  };
}

/** Idempotency records are how commands stay idempotent, not ledger events. */
export function isLedgerEvent(event: StoredEvent): boolean {
  return !isIdempotencyStream(event.streamName);
}
