import { KeyedBatcher, KeyedSerializer } from './keyed-serializer.js';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('KeyedSerializer', () => {
  it('runs tasks of one key one at a time, in arrival order, and other keys alongside', async () => {
    const serializer = new KeyedSerializer();
    const log: string[] = [];
    const gate = deferred();
    const first = serializer.run('a', async () => {
      log.push('a1 start');
      await gate.promise;
      log.push('a1 end');
    });
    const second = serializer.run('a', async () => {
      log.push('a2');
    });
    await serializer.run('b', async () => {
      log.push('b1');
    });
    expect(log).toEqual(['a1 start', 'b1']);
    gate.resolve();
    await Promise.all([first, second]);
    expect(log).toEqual(['a1 start', 'b1', 'a1 end', 'a2']);
  });

  it('keeps going after a task fails and forgets idle keys', async () => {
    const serializer = new KeyedSerializer();
    await expect(serializer.run('a', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(serializer.run('a', async () => 42)).resolves.toBe(42);
    await Promise.resolve();
    expect(serializer.size).toBe(0);
  });

  it('refuses a task past the bound of waiting tasks on one key, not on others', async () => {
    const serializer = new KeyedSerializer(2, (key) => new Error(`full: ${key}`));
    const gate = deferred();
    const running = serializer.run('a', () => gate.promise);
    await Promise.resolve(); // the first task has started: it no longer waits
    const waiting = [serializer.run('a', async () => 1), serializer.run('a', async () => 2)];
    await expect(serializer.run('a', async () => 3)).rejects.toThrow('full: a');
    await expect(serializer.run('b', async () => 4)).resolves.toBe(4);
    gate.resolve();
    await running;
    await expect(Promise.all(waiting)).resolves.toEqual([1, 2]);
    await expect(serializer.run('a', async () => 5)).resolves.toBe(5);
  });
});

describe('KeyedBatcher', () => {
  /** A batcher whose runs wait for `gate` and record the items each run got. */
  function recording(options: { batchMax: number; queuedMax?: number; joinKeyOf?: (item: string) => string }) {
    const runs: string[][] = [];
    let gate = deferred();
    const batcher = new KeyedBatcher<string, string>(async (_key, items) => {
      runs.push([...items]);
      await gate.promise;
      return items.map((item) =>
        item.startsWith('x') ? { ok: false, error: new Error(item) } : { ok: true, value: item.toUpperCase() },
      );
    }, options);
    return { batcher, runs, open: () => gate.resolve(), reset: () => (gate = deferred()) };
  }

  it('runs an item on an idle key at once, and what queued meanwhile together next, in order, up to batchMax', async () => {
    const { batcher, runs, open } = recording({ batchMax: 3 });
    const results = ['a', 'b', 'c', 'd', 'e'].map((item) => batcher.submit('k', item));
    expect(runs).toEqual([['a']]);
    open();
    await expect(Promise.all(results)).resolves.toEqual(['A', 'B', 'C', 'D', 'E']);
    expect(runs).toEqual([['a'], ['b', 'c', 'd'], ['e']]);
    expect(batcher.size).toBe(0);
  });

  it('answers each item with its own outcome, and keys apart from each other', async () => {
    const { batcher, runs, open } = recording({ batchMax: 10 });
    const [a, x, b] = [batcher.submit('k', 'a'), batcher.submit('k', 'x1'), batcher.submit('other', 'b')];
    open();
    await expect(a).resolves.toBe('A');
    await expect(x).rejects.toThrow('x1');
    await expect(b).resolves.toBe('B');
    expect(runs).toEqual([['a'], ['b'], ['x1']]);
  });

  it('never puts two items with the same join key in one batch', async () => {
    const { batcher, runs, open } = recording({ batchMax: 10, joinKeyOf: (item) => item[0]! });
    const results = ['a1', 'b1', 'c1', 'b2', 'd1'].map((item) => batcher.submit('k', item));
    open();
    await Promise.all(results);
    expect(runs).toEqual([['a1'], ['b1', 'c1'], ['b2', 'd1']]);
  });

  it('puts deferred items back first, in order, and refuses past queuedMax', async () => {
    let calls = 0;
    const runs: string[][] = [];
    const gate = deferred();
    const batcher = new KeyedBatcher<string, string>(
      async (_key, items) => {
        runs.push([...items]);
        if (calls++ === 0) await gate.promise;
        // The second run takes only its first item and defers the rest.
        return items.map((item, i) => (calls === 2 && i > 0 ? { deferred: true } : { ok: true, value: item }));
      },
      { batchMax: 10, queuedMax: 3, onFull: (key) => new Error(`full ${key}`) },
    );
    const results = ['a', 'b', 'c', 'd'].map((item) => batcher.submit('k', item));
    await expect(batcher.submit('k', 'e')).rejects.toThrow('full k');
    gate.resolve();
    await expect(Promise.all(results)).resolves.toEqual(['a', 'b', 'c', 'd']);
    expect(runs).toEqual([['a'], ['b', 'c', 'd'], ['c', 'd']]);
  });
});
