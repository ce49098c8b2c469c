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

/** What a batch made of one of its items: a result, an error, or "not yet" (it goes first in the next batch). */
export type BatchOutcome<R> = { ok: true; value: R } | { ok: false; error: unknown } | { deferred: true };

interface Queued<T, R> {
  item: T;
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
}

export interface KeyedBatcherOptions<T> {
  /** Items handed to one run at most. */
  batchMax: number;
  /** Items waiting on one key beyond which `submit` refuses (`onFull`), so memory stays bounded. */
  queuedMax?: number;
  onFull?: (key: string) => Error;
  /** Two items with the same join key never share a batch: the second starts the next one. */
  joinKeyOf?: (item: T) => string;
}

/**
 * Like `KeyedSerializer`, one run at a time per key in arrival order, but a run takes
 * every item waiting on its key (up to `batchMax`): what queued behind one run goes
 * together in the next. Nothing waits on a timer: an item on an idle key runs at once.
 * A run answers each item; one it defers goes back to the front of the queue, in order,
 * so a run must decide at least its first item.
 */
export class KeyedBatcher<T, R> {
  private readonly queues = new Map<string, Queued<T, R>[]>();

  constructor(
    private readonly runBatch: (key: string, items: readonly T[]) => Promise<BatchOutcome<R>[]>,
    private readonly options: KeyedBatcherOptions<T>,
  ) {}

  submit(key: string, item: T): Promise<R> {
    const queue = this.queues.get(key);
    if (queue && queue.length >= (this.options.queuedMax ?? Number.POSITIVE_INFINITY)) {
      return Promise.reject((this.options.onFull ?? ((k) => new Error(`too many tasks queued on ${k}`)))(key));
    }
    return new Promise<R>((resolve, reject) => {
      const entry = { item, resolve, reject };
      if (queue) {
        queue.push(entry);
        return;
      }
      const fresh = [entry];
      this.queues.set(key, fresh);
      void this.drain(key, fresh);
    });
  }

  get size(): number {
    return this.queues.size;
  }

  private async drain(key: string, queue: Queued<T, R>[]): Promise<void> {
    while (queue.length > 0) {
      const batch = this.take(queue);
      let outcomes: BatchOutcome<R>[];
      try {
        outcomes = await this.runBatch(
          key,
          batch.map((entry) => entry.item),
        );
      } catch (error) {
        outcomes = batch.map(() => ({ ok: false, error }));
      }
      const deferred: Queued<T, R>[] = [];
      batch.forEach((entry, i) => {
        const outcome = outcomes[i] ?? { ok: false, error: new Error('the batch gave this item no outcome') };
        if ('deferred' in outcome) {
          // The first item must progress, or the queue would spin.
          if (i === 0) entry.reject(new Error('a batch deferred its first item'));
          else deferred.push(entry);
        } else if (outcome.ok) entry.resolve(outcome.value);
        else entry.reject(outcome.error);
      });
      queue.unshift(...deferred);
    }
    this.queues.delete(key);
  }

  private take(queue: Queued<T, R>[]): Queued<T, R>[] {
    const batch: Queued<T, R>[] = [];
    const joined = new Set<string>();
    while (batch.length < this.options.batchMax && queue.length > 0) {
      const join = this.options.joinKeyOf?.(queue[0]!.item);
      if (join !== undefined) {
        if (joined.has(join)) break;
        joined.add(join);
      }
      batch.push(queue.shift()!);
    }
    return batch;
  }
}
