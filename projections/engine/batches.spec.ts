import { batched } from './batches.js';

/** A source whose items the test releases: `push` makes items ready, `end` finishes it. */
function controlled<T>() {
  const ready: T[] = [];
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  let pulled = 0;
  const source: AsyncIterable<T> = {
    async *[Symbol.asyncIterator]() {
      for (;;) {
        while (ready.length === 0 && !ended && !failure) await new Promise<void>((r) => (wake = r));
        if (ready.length > 0) {
          pulled++;
          yield ready.shift()!;
        } else if (failure) throw failure;
        else return;
      }
    },
  };
  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  return {
    source,
    push: (...items: T[]) => (ready.push(...items), poke()),
    end: () => ((ended = true), poke()),
    fail: (error: Error) => ((failure = error), poke()),
    pulled: () => pulled,
  };
}

describe('batched', () => {
  it('hands over what is ready at once as one batch, and a later item in a batch of its own', async () => {
    const s = controlled<number>();
    const batches = batched(s.source, 10);
    s.push(1, 2, 3);
    expect((await batches.next()).value).toEqual([1, 2, 3]);
    const next = batches.next();
    s.push(4);
    expect((await next).value).toEqual([4]);
    s.end();
    expect((await batches.next()).done).toBe(true);
  });

  it('cuts batches at sizeMax, in order, losing nothing', async () => {
    const s = controlled<number>();
    const items = Array.from({ length: 25 }, (_, i) => i);
    s.push(...items);
    s.end();
    const seen: number[][] = [];
    for await (const batch of batched(s.source, 10)) seen.push(batch);
    expect(seen.map((b) => b.length)).toEqual([10, 10, 5]);
    expect(seen.flat()).toEqual(items);
  });

  it('reads ahead while the consumer works, but no further than sizeMax + aheadMax', async () => {
    const s = controlled<number>();
    s.push(...Array.from({ length: 100 }, (_, i) => i));
    const batches = batched(s.source, 10, 5);
    expect((await batches.next()).value).toHaveLength(10);
    // The consumer is busy now; the reader runs on its own until the bound stops it.
    for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(s.pulled()).toBe(10 + 15);
    expect((await batches.next()).value).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    await batches.return(undefined);
  });

  it('delivers the items read before a failure of the source, then the failure', async () => {
    const s = controlled<number>();
    const batches = batched(s.source, 10);
    s.push(1, 2);
    expect((await batches.next()).value).toEqual([1, 2]);
    s.push(3);
    s.fail(new Error('store down'));
    const rest: number[][] = [];
    await expect(
      (async () => {
        for await (const batch of { [Symbol.asyncIterator]: () => batches }) rest.push(batch);
      })(),
    ).rejects.toThrow('store down');
    expect(rest).toEqual([[3]]);
  });
});
