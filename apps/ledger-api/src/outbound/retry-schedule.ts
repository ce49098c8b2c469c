/** How failed deliveries are retried (API.md): growing, jittered waits, capped, for a bounded time. */
export interface RetrySchedule {
  /** The wait after the first failure (about 5 s). */
  firstDelayMs: number;
  /** No wait is longer (an hour). */
  delayMsMax: number;
  /** A delivery not succeeded this long after it was created is `failed` (3 days). */
  windowMs: number;
}

export const RETRY_SCHEDULE_DEFAULT: RetrySchedule = {
  firstDelayMs: 5_000,
  delayMsMax: 60 * 60 * 1000,
  windowMs: 3 * 24 * 60 * 60 * 1000,
};

/**
 * The wait after failed attempt number `attempt` (1-based): doubling from the first
 * delay up to the cap, then ±20% jitter so endpoints that failed together are not
 * retried together. `random` in [0, 1).
 */
export function retryDelayMs(schedule: RetrySchedule, attempt: number, random: number): number {
  const base = Math.min(schedule.delayMsMax, schedule.firstDelayMs * 2 ** Math.min(attempt - 1, 40));
  return Math.max(1, Math.round(base * (0.8 + 0.4 * random)));
}
