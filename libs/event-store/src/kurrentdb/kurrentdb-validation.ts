import type { StreamAppend } from '../event-store.port.js';
import { InvalidAppendError } from '../errors.js';

/**
 * What KurrentDB's v2 append refuses, checked before sending: the server's answers to these
 * are not all errors the client turns into something a caller can act on (stream names that
 * differ only in case come back as ABORTED, which the client calls a timeout, so a caller
 * would retry forever). The rules follow the server's record validators (25.1).
 */

/** The server's rule for event types (schema names). */
export const EVENT_TYPE = /^[a-zA-Z0-9_.$:-]+$/;
/**
 * One record (data, metadata, type) at most: the server's effective maximum log record size is
 * just under 16 MiB; this keeps a margin for the record's own header.
 */
export const MAX_RECORD_BYTES = 16 * 1024 * 1024 - 64 * 1024;
/** One append must fit in a transaction-log chunk (256 MiB). */
export const MAX_APPEND_BYTES = 256 * 1024 * 1024 - 1024 * 1024;

export function validateForKurrentDb(streams: readonly StreamAppend[]): void {
  const names = new Map<string, string>();
  let total = 0;
  for (const stream of streams) {
    const folded = stream.streamName.toLowerCase();
    const twin = names.get(folded);
    if (twin !== undefined) {
      throw new InvalidAppendError(
        `streams '${twin}' and '${stream.streamName}' differ only in case; KurrentDB takes them for one stream in an append`,
      );
    }
    names.set(folded, stream.streamName);
    for (const event of stream.events) {
      if (!EVENT_TYPE.test(event.type)) {
        throw new InvalidAppendError(`event type '${event.type}' has characters KurrentDB refuses (${EVENT_TYPE})`);
      }
      for (const key of Object.keys(event.metadata ?? {})) {
        if (key.trim() === '') throw new InvalidAppendError('metadata keys must not be empty');
        // '$' keys are the server's (it adds $schema.*, $record.*): it refuses $schema.* and the
        // adapter drops every '$' key when reading, so one written would be lost.
        if (key.startsWith('$'))
          throw new InvalidAppendError(`metadata key '${key}' is reserved ('$' keys are KurrentDB's)`);
      }
      const size =
        Buffer.byteLength(JSON.stringify(event.data)) +
        Buffer.byteLength(JSON.stringify(event.metadata ?? {})) +
        Buffer.byteLength(event.type);
      if (size > MAX_RECORD_BYTES) {
        throw new InvalidAppendError(`event ${event.id} is ${size} bytes, more than KurrentDB's ${MAX_RECORD_BYTES}`);
      }
      total += size;
    }
  }
  if (total > MAX_APPEND_BYTES) {
    throw new InvalidAppendError(`the append is ${total} bytes, more than one KurrentDB transaction holds`);
  }
}
