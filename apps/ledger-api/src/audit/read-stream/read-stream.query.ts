import { Inject, Injectable } from '@nestjs/common';
import { EVENT_STORE, type EventStore } from '@ledger/event-store';
import { ApiError } from '../../errors/api-error.js';
import { toStreamItem } from '../audit-event.js';

export const STREAM_NAME_LENGTH_MAX = 300;
export const STREAM_PAGE_LIMIT_MAX = 1_000;
export const STREAM_PAGE_LIMIT_DEFAULT = 100;
// C0 and C1 control characters, DEL included.
const CONTROL_CHARACTER = /\p{Cc}/u;

export interface StreamPage {
  items: ReturnType<typeof toStreamItem>[];
  /** The `fromRevision` of the next page, or null when this page ends the stream. */
  nextRevision: number | null;
}

/** One stream's events exactly as stored, a page at a time. */
@Injectable()
export class StreamReader {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  async page(streamName: string, fromRevision: bigint, limit: number): Promise<StreamPage> {
    // One more than the page tells whether another page follows.
    const events = await this.store.readStream(streamName, { fromRevision, limit: limit + 1 });
    if (events.length === 0 && (fromRevision === 0n || !(await this.exists(streamName)))) {
      throw new ApiError(404, 'not_found', 'this stream has no events', { streamName });
    }
    const page = events.slice(0, limit);
    const next = events.length > limit ? page.at(-1)!.revision + 1n : undefined;
    return { items: page.map(toStreamItem), nextRevision: next === undefined ? null : Number(next) };
  }

  private async exists(streamName: string): Promise<boolean> {
    return (await this.store.readStream(streamName, { limit: 1 })).length > 0;
  }
}

/** Any non-empty name up to 300 characters without control characters: the store's names are not only ours. */
export function checkStreamName(streamName: unknown): string {
  if (
    typeof streamName !== 'string' ||
    streamName.length === 0 ||
    streamName.length > STREAM_NAME_LENGTH_MAX ||
    CONTROL_CHARACTER.test(streamName)
  ) {
    const problem = `must be 1 to ${STREAM_NAME_LENGTH_MAX} characters without control characters`;
    throw new ApiError(400, 'validation_failed', `streamName ${problem}`, [
      { field: 'streamName', problems: [problem] },
    ]);
  }
  return streamName;
}
