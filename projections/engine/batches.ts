import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Groups an async iterator into batches of up to `sizeMax`, reading ahead
 * while the consumer works on the previous batch: the next read of the log
 * overlaps the write of the batch before it. A batch is handed over as soon
 * as the source would have to wait, with what arrived by then: live events go
 * out at once, and catch-up runs in full batches. The read-ahead is bounded:
 * the reader pauses once `sizeMax + aheadMax` items wait.
 *
 * On stop the reader is not awaited (it may be waiting on the source): the
 * owner closes the source, which ends it.
 */
export async function* batched<T>(source: AsyncIterable<T>, sizeMax: number, aheadMax = sizeMax): AsyncGenerator<T[]> {
  const buffer: T[] = [];
  let ended = false;
  let stopped = false;
  let failure: { error: unknown } | undefined;
  let consumerWaiting: (() => void) | undefined;
  let readerWaiting: (() => void) | undefined;
  const wakeConsumer = () => {
    const wake = consumerWaiting;
    consumerWaiting = undefined;
    wake?.();
  };
  const wakeReader = () => {
    const wake = readerWaiting;
    readerWaiting = undefined;
    wake?.();
  };

  void (async () => {
    try {
      for await (const item of source) {
        buffer.push(item);
        wakeConsumer();
        while (!stopped && buffer.length >= sizeMax + aheadMax) await new Promise<void>((r) => (readerWaiting = r));
        if (stopped) return;
      }
    } catch (error) {
      failure = { error };
    } finally {
      ended = true;
      wakeConsumer();
    }
  })();

  try {
    for (;;) {
      while (buffer.length === 0 && !ended) await new Promise<void>((r) => (consumerWaiting = r));
      if (buffer.length === 0) {
        if (failure) throw failure.error;
        return;
      }
      // What the source delivers in this turn (the rest of a read) joins the batch.
      await nextTurn();
      const batch = buffer.splice(0, sizeMax);
      wakeReader();
      yield batch;
    }
  } finally {
    stopped = true;
    wakeReader();
  }
}
