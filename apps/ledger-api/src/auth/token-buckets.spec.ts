import { TokenBuckets } from './token-buckets.js';

describe('token buckets', () => {
  it('lets a burst of twice the rate through at once, then one more per refilled token', () => {
    const buckets = new TokenBuckets();
    const taken = Array.from({ length: 12 }, () => buckets.take('k', 5, 1_000).allowed);
    expect(taken.filter(Boolean)).toHaveLength(10);
    expect(buckets.take('k', 5, 1_000)).toEqual({ allowed: false, retryAfterSeconds: 1 });
    // 200 ms at 5 per second is one token.
    expect(buckets.take('k', 5, 1_200).allowed).toBe(true);
    expect(buckets.take('k', 5, 1_200).allowed).toBe(false);
  });

  it('never holds more than the burst, however long a key was idle', () => {
    const buckets = new TokenBuckets();
    buckets.take('k', 2, 0);
    const later = Array.from({ length: 5 }, () => buckets.take('k', 2, 3_600_000).allowed);
    expect(later).toEqual([true, true, true, true, false]);
  });

  it('keeps keys apart and says how many whole seconds to wait, at least one', () => {
    const buckets = new TokenBuckets();
    expect(buckets.take('slow', 1, 0).allowed).toBe(true);
    expect(buckets.take('slow', 1, 0).allowed).toBe(true);
    expect(buckets.take('slow', 1, 0)).toEqual({ allowed: false, retryAfterSeconds: 1 });
    expect(buckets.take('other', 1, 0).allowed).toBe(true);
  });

  it('admits at most burst + rate × seconds over a stretch of steady pressure', () => {
    const buckets = new TokenBuckets();
    let allowed = 0;
    // 10 s of a request every millisecond at 5 per second.
    for (let ms = 0; ms <= 10_000; ms++) if (buckets.take('k', 5, ms).allowed) allowed++;
    expect(allowed).toBeLessThanOrEqual(10 + 5 * 10);
    expect(allowed).toBeGreaterThanOrEqual(10 + 5 * 10 - 1);
  });
});
