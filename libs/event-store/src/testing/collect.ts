import type { StoredEvent, Subscription } from '../event-store.port.js';

/**
 * Pulls events from a subscription into `received` until `done(received)` holds,
 * then closes it. Only events of streams accepted by `keep` are kept, since a
 * shared store (KurrentDB) carries other tests' events too.
 */
export async function collectUntil(
  subscription: Subscription,
  keep: (event: StoredEvent) => boolean,
  done: (received: StoredEvent[]) => boolean,
): Promise<StoredEvent[]> {
  const received: StoredEvent[] = [];
  if (done(received)) {
    await subscription.close();
    return received;
  }
  for await (const event of subscription) {
    if (!keep(event)) continue;
    received.push(event);
    if (done(received)) break;
  }
  await subscription.close();
  return received;
}

/** Asserts positions strictly increase and no event id appears twice. */
export function assertOrderedOnce(events: readonly StoredEvent[]): void {
  const ids = new Set<string>();
  let last = -1n;
  for (const event of events) {
    if (event.position <= last) throw new Error(`position ${event.position} delivered after ${last}`);
    if (ids.has(event.id)) throw new Error(`event ${event.id} delivered twice`);
    ids.add(event.id);
    last = event.position;
  }
}
