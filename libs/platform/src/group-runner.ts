/** One member's result in a group: its value, or the error that is its alone. */
export type MemberResult<O> = { ok: true; value: O } | { ok: false; error: unknown };

export interface GroupRunnerOptions {
  /** Groups running at once; calls made meanwhile wait and go together in the next group. */
  maxInFlight: number;
  /** Most calls in one group. */
  maxGroup: number;
}

interface Waiting<I, O> {
  input: I;
  resolve(value: O): void;
  reject(error: unknown): void;
}

/**
 * Runs concurrent calls together: one round trip (one statement, one commit)
 * for every call that arrived while the previous groups were running. Nothing
 * waits on a timer: with no group running, a call goes out in the same turn of
 * the event loop, with whatever else arrived in it.
 *
 * `run` answers each member: a member's error fails only that member; a thrown
 * error fails the whole group.
 */
export class GroupRunner<I, O> {
  private readonly waiting: Waiting<I, O>[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly run: (inputs: I[]) => Promise<MemberResult<O>[]>,
    private readonly options: GroupRunnerOptions,
  ) {
    if (options.maxInFlight < 1 || options.maxGroup < 1) throw new RangeError('maxInFlight and maxGroup must be ≥ 1');
  }

  submit(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.waiting.push({ input, resolve, reject });
      this.schedule();
    });
  }

  /** Calls waiting for a group to take them. */
  get queued(): number {
    return this.waiting.length;
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.options.maxInFlight) return;
    this.scheduled = true;
    // After the I/O callbacks of this turn: the requests that arrived together go together.
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.options.maxInFlight && this.waiting.length > 0) {
      const group = this.waiting.splice(0, this.options.maxGroup);
      this.inFlight++;
      void this.runGroup(group).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async runGroup(group: Waiting<I, O>[]): Promise<void> {
    let results: MemberResult<O>[];
    try {
      results = await this.run(group.map((w) => w.input));
      if (results.length !== group.length) {
        throw new Error(`a group of ${group.length} got ${results.length} results`);
      }
    } catch (error) {
      for (const member of group) member.reject(error);
      return;
    }
    group.forEach((member, i) => {
      const result = results[i]!;
      if (result.ok) member.resolve(result.value);
      else member.reject(result.error);
    });
  }
}
