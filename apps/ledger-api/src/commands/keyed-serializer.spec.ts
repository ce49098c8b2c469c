import { KeyedSerializer } from './keyed-serializer.js';

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
