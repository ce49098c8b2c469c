import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Groups an async iterator into batches: takes what is ready at once (up to
 * `sizeMax`) and hands the batch over as soon as the source would have to
 * wait. Catch-up then runs in large batches and live events go out at once.
 */
export async function* batched<T>(source: AsyncIterable<T>, sizeMax: number): AsyncGenerator<T[]> {
  const iterator = source[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<T>> | undefined;
  const waiting = Symbol('waiting');
  try {
    for (;;) {
      const batch: T[] = [];
      const first = await (pending ?? iterator.next());
      pending = undefined;
      if (first.done) return;
      batch.push(first.value);
      while (batch.length < sizeMax) {
        pending = iterator.next();
        const next = await Promise.race([pending, nextTurn().then(() => waiting)]);
        if (next === waiting) break;
        pending = undefined;
        if ((next as IteratorResult<T>).done) {
          yield batch;
          return;
        }
        batch.push((next as IteratorResult<T>).value);
      }
      yield batch;
    }
  } finally {
    // With a read still pending, return() would queue behind it: the owner closes the source instead.
    if (pending) void Promise.resolve(iterator.return?.()).catch(() => undefined);
    else await iterator.return?.();
  }
}
