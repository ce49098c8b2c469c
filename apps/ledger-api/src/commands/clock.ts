/** The service's clock, injected so tests can move it (lease expiry, deadlines). */
export interface Clock {
  now(): Date;
}

export const CLOCK = Symbol('CLOCK');

export const systemClock: Clock = { now: () => new Date() };
