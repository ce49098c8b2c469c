import type { StreamAppend } from './event-store.port.js';
import { InvalidAppendError } from './errors.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const EVENTS_PER_APPEND_MAX = 1000;

/** Checks what both stores would refuse anyway, so both refuse it the same way. */
export function validateAppend(streams: readonly StreamAppend[]): void {
  if (streams.length === 0) throw new InvalidAppendError('an append needs at least one stream');
  const names = new Set<string>();
  let total = 0;
  for (const stream of streams) {
    if (stream.streamName.length === 0 || stream.streamName.startsWith('$')) {
      throw new InvalidAppendError(`invalid stream name '${stream.streamName}'`);
    }
    if (names.has(stream.streamName)) throw new InvalidAppendError(`stream ${stream.streamName} appears twice`);
    names.add(stream.streamName);
    if (typeof stream.expectedRevision === 'bigint' && stream.expectedRevision < 0n) {
      throw new InvalidAppendError(`expected revision of ${stream.streamName} is negative`);
    }
    if (stream.events.length === 0) throw new InvalidAppendError(`no events for stream ${stream.streamName}`);
    total += stream.events.length;
    for (const event of stream.events) {
      if (!UUID.test(event.id)) throw new InvalidAppendError(`event id '${event.id}' is not a UUID`);
      if (event.type.length === 0) throw new InvalidAppendError('event type is empty');
      for (const [key, value] of Object.entries(event.metadata ?? {})) {
        if (typeof value !== 'string') throw new InvalidAppendError(`metadata '${key}' is not a string`);
      }
    }
  }
  if (total > EVENTS_PER_APPEND_MAX) throw new InvalidAppendError(`more than ${EVENTS_PER_APPEND_MAX} events`);
}
