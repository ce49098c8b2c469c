import { LRUCache } from 'lru-cache';

// Keys tracked at once; the least recently seen is forgotten first (its bucket refills to full anyway).
const BUCKETS_MAX = 100_000;

export type Take = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * One token bucket per key, in this process: it holds up to twice the key's rate
 * (the burst) and refills at the rate, continuously. A request takes a token or is
 * refused with the whole seconds until one is there. So in any T seconds a key gets
 * at most 2 × rate + rate × T requests through one replica.
 */
export class TokenBuckets {
  private readonly buckets = new LRUCache<string, { tokens: number; atMs: number; rate: number }>({
    max: BUCKETS_MAX,
  });

  take(keyId: string, ratePerSecond: number, nowMs: number): Take {
    const capacity = 2 * ratePerSecond;
    const bucket = this.buckets.get(keyId);
    // A key whose rate changed starts over with a full bucket at its new rate.
    const tokens =
      bucket && bucket.rate === ratePerSecond
        ? Math.min(capacity, bucket.tokens + (Math.max(0, nowMs - bucket.atMs) / 1000) * ratePerSecond)
        : capacity;
    if (tokens >= 1) {
      this.buckets.set(keyId, { tokens: tokens - 1, atMs: nowMs, rate: ratePerSecond });
      return { allowed: true };
    }
    this.buckets.set(keyId, { tokens, atMs: nowMs, rate: ratePerSecond });
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / ratePerSecond)) };
  }
}
