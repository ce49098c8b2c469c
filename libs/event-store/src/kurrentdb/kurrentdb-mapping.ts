import {
  ANY,
  jsonEvent,
  NO_STREAM,
  STREAM_EXISTS,
  type AppendStreamState,
  type EventData,
  type Position,
} from '@kurrent/kurrentdb-client';
import type { EventToAppend, ExpectedRevision, StoredEvent } from '../event-store.port.js';

/** Mapping between the port's shapes and the client's, kept apart so it is tested without a server. */

export function toStreamState(expected: ExpectedRevision): AppendStreamState {
  switch (expected) {
    case 'any':
      return ANY;
    case 'no_stream':
      return NO_STREAM;
    case 'stream_exists':
      return STREAM_EXISTS;
    default:
      return expected;
  }
}

export function toEventData(event: EventToAppend): EventData {
  return jsonEvent({ id: event.id, type: event.type, data: event.data, metadata: event.metadata ?? {} });
}

/** The part of the client's ResolvedEvent / AllStreamResolvedEvent the mapping reads. */
export interface ClientResolvedEvent {
  event?: {
    streamId: string;
    id: string;
    type: string;
    revision: bigint;
    created: Date;
    data: unknown;
    metadata: unknown;
    position?: Position;
  };
  /** Set on $all reads; not read: the recorded event's own position is always there. */
  commitPosition?: bigint;
}

/** Null for what the ledger never writes: system streams and event types, links ('$>'). */
export function toStoredEvent(resolved: ClientResolvedEvent): StoredEvent | null {
  const event = resolved.event;
  if (!event || event.streamId.startsWith('$') || event.type.startsWith('$')) return null;
  // Every read (stream or $all, bridge or grpc-js) carries the position on the recorded event:
  // the client fills it from proto fields that default to "0", so a missing one arrives as 0,
  // never as undefined. Positions start above 0, so 0 is refused like a missing one.
  const position = event.position?.commit;
  if (position === undefined || position <= 0n) {
    throw new Error(`event ${event.id} of ${event.streamId} came without a position`);
  }
  return {
    id: event.id,
    type: event.type,
    data: toData(event.data, event.id),
    metadata: toMetadata(event.metadata),
    streamName: event.streamId,
    revision: event.revision,
    position,
    createdAt: createdAt(event.created, event.metadata),
  };
}

/**
 * The same event must read the same through both halves of the client, but the Rust bridge
 * (reads) gives `created` to the second while grpc-js (subscriptions) gives milliseconds. The
 * v2 append records the record's timestamp in milliseconds as '$record.timestamp': that when
 * present, otherwise `created` cut to the second on both paths.
 */
export function createdAt(created: Date, metadata: unknown): Date {
  const timestamp = (parsedMetadata(metadata) as Record<string, unknown> | undefined)?.['$record.timestamp'];
  if (typeof timestamp === 'number' && Number.isSafeInteger(timestamp) && timestamp > 0) return new Date(timestamp);
  return new Date(Math.floor(created.getTime() / 1000) * 1000);
}

function parsedMetadata(metadata: unknown): unknown {
  if (!(metadata instanceof Uint8Array)) return metadata;
  try {
    return JSON.parse(Buffer.from(metadata).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function toData(data: unknown, id: string): Record<string, unknown> {
  // The client parses JSON events itself; bytes arrive only if an event was not flagged as JSON.
  const parsed = data instanceof Uint8Array ? (JSON.parse(Buffer.from(data).toString('utf8')) as unknown) : data;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`event ${id} has data that is not a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * Our metadata is a string map stored as a JSON object. KurrentDB adds '$'-prefixed keys of its
 * own to events written by multiStreamAppend ('$schema.name', '$schema.format', in some versions
 * '$record.timestamp'); '$' names are the server's, so every '$' key is dropped.
 */
export function toMetadata(metadata: unknown): Record<string, string> {
  let value = metadata;
  if (value instanceof Uint8Array) {
    try {
      value = JSON.parse(Buffer.from(value).toString('utf8')) as unknown;
    } catch {
      return {}; // Not JSON: not written by this adapter.
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
  const map: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value)) {
    if (key.startsWith('$')) continue;
    map[key] = typeof entry === 'string' ? entry : JSON.stringify(entry);
  }
  return map;
}
