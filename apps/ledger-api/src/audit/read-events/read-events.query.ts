import { Readable } from 'node:stream';
import { Inject, Injectable } from '@nestjs/common';
import { EVENT_STORE, type EventStore } from '@ledger/event-store';
import { toLogItem } from '../audit-event.js';
import { ledgerEvents } from './ledger-log.js';

export const EVENTS_PAGE_LIMIT_MAX = 1_000;
export const EVENTS_PAGE_LIMIT_DEFAULT = 100;
export const EVENTS_STREAM_LIMIT_MAX = 10_000_000;
// Bytes buffered ahead of a slow client before the log stops being read.
const STREAM_HIGH_WATER_MARK_BYTES = 64 * 1024;

export interface EventsPage {
  items: ReturnType<typeof toLogItem>[];
  /** The `fromPosition` of the next page, or null when this page reached the head of the log. */
  nextPosition: number | null;
}

export interface EventsStream {
  /** The head of the log when the request came: the stream ends there. */
  upTo: bigint;
  body: Readable;
}

/** The global log for auditors: JSON pages, or all of it as NDJSON. */
@Injectable()
export class EventsReader {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  async page(after: bigint, limit: number): Promise<EventsPage> {
    const upTo = await this.store.headPosition();
    const items: EventsPage['items'] = [];
    for await (const event of ledgerEvents(this.store, { after, upTo, limit })) items.push(toLogItem(event));
    const last = items.at(-1);
    const more = last !== undefined && items.length === limit && BigInt(last.position) < upTo;
    return { items, nextPosition: more ? last.position : null };
  }

  /**
   * One JSON line per event, pulled from the log only as fast as the client reads:
   * memory stays at a batch and a socket buffer however long the log.
   */
  async stream(after: bigint, limit: number): Promise<EventsStream> {
    const upTo = await this.store.headPosition();
    // A position the log does not hold fails here, as a 400, not after the headers are sent.
    if (after > 0n && after < upTo) await this.store.readAll({ afterPosition: after, limit: 1 });
    const store = this.store;
    async function* lines(): AsyncGenerator<string> {
      for await (const event of ledgerEvents(store, { after, upTo, limit }))
        yield `${JSON.stringify(toLogItem(event))}\n`;
    }
    return { upTo, body: Readable.from(lines(), { objectMode: false, highWaterMark: STREAM_HIGH_WATER_MARK_BYTES }) };
  }
}
