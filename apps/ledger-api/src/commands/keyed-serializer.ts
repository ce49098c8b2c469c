/**
 * Runs tasks one at a time per key, in arrival order. Commands on one stream
 * in this process queue here instead of racing to an optimistic-concurrency
 * conflict: a hot account then costs one append per command, not a retry storm.
 * Replicas still meet in the store's expected revisions.
 */
export class KeyedSerializer {
  private readonly tails = new Map<string, Promise<unknown>>();
  private readonly queued = new Map<string, number>();

  /** `queuedMax`: tasks waiting on one key beyond which `run` refuses (`onFull`), so memory stays bounded. */
  constructor(
    private readonly queuedMax = Number.POSITIVE_INFINITY,
    private readonly onFull: (key: string) => Error = (key) => new Error(`too many tasks queued on ${key}`),
  ) {}

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const waiting = this.queued.get(key) ?? 0;
    if (waiting >= this.queuedMax) return Promise.reject(this.onFull(key));
    this.queued.set(key, waiting + 1);
    const previous = this.tails.get(key) ?? Promise.resolve();
    const start = () => {
      const left = (this.queued.get(key) ?? 1) - 1;
      if (left === 0) this.queued.delete(key);
      else this.queued.set(key, left);
      return task();
    };
    const result = previous.then(start, start);
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
