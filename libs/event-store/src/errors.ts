/** Our own error types: adapters translate their clients' errors into these. */

export interface StreamConflict {
  streamName: string;
  expected: string;
  /** The stream's actual last revision, -1 when it does not exist, undefined when unknown. */
  actual?: bigint;
}

/** An expectation of a stream's revision did not hold; nothing was written. */
export class VersionConflictError extends Error {
  override readonly name = 'VersionConflictError';
  constructor(readonly conflicts: StreamConflict[]) {
    super(
      `version conflict: ${conflicts
        .map((c) => `${c.streamName} expected ${c.expected}, actual ${c.actual ?? 'unknown'}`)
        .join('; ')}`,
    );
  }
}

/** The store could not be reached or did not answer; the outcome of a write is unknown. */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The call itself was malformed (e.g. an event id that is not a UUID). */
export class InvalidAppendError extends Error {
  override readonly name = 'InvalidAppendError';
}

/**
 * The store answers but cannot serve the ledger as configured (a server too old, a missing
 * feature, a user without the reads it needs). Retrying does not help; the message says what does.
 */
export class IncompatibleStoreError extends Error {
  override readonly name = 'IncompatibleStoreError';
}

/** A global-log position the store does not hold (not an event's position): a bad request. */
export class InvalidPositionError extends Error {
  override readonly name = 'InvalidPositionError';
}
