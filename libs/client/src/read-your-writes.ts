/**
 * Read-your-writes (API.md "Conventions"): every command answers with `position`, and a
 * query given `minPosition` waits until the read models reached it. This remembers the
 * highest position seen, to pass to the next query.
 */
export class ReadYourWrites {
  private position: number | undefined;

  /** Records a command's answer (or any object with a `position`); returns it unchanged. */
  observe<T>(answer: T): T {
    const position = (answer as { position?: unknown } | null)?.position;
    if (typeof position === 'number' && (this.position === undefined || position > this.position)) {
      this.position = position;
    }
    return answer;
  }

  /** The query parameters that make a read see every write observed: `{minPosition}` (or none yet). */
  query(): { minPosition?: number } {
    return this.position === undefined ? {} : { minPosition: this.position };
  }

  get lastPosition(): number | undefined {
    return this.position;
  }
}
