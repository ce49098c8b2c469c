/** The checkpoint moved under this runner (another one took over meanwhile): start again from it. */
export class FencedOffError extends Error {
  override readonly name = 'FencedOffError';
}

/**
 * A projection wrote other rows than its mapping promised: a bug or corrupt
 * tables. Nothing retries it; the runner stops that projection for good.
 */
export class ProjectionAssertionError extends Error {
  override readonly name = 'ProjectionAssertionError';

  constructor(
    readonly projection: string,
    message: string,
  ) {
    super(message);
  }
}
