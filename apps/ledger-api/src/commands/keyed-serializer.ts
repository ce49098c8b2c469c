/**
 * Runs tasks one at a time per key, in arrival order. Commands on one stream
 * in this process queue here instead of racing to an optimistic-concurrency
 * conflict: a hot account then costs one append per command, not a retry storm.
 * Replicas still meet in the store's expected revisions.
 */
export class KeyedSerializer {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      // Forget the key once nothing is queued behind this task, so the map stays bounded.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  get size(): number {
    return this.tails.size;
  }
}
