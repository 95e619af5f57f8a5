// Per-key token buckets for rate limits (pure): O(1) per check, memory bounded by dropping full (idle) buckets.

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export interface TokenBucketOptions {
  /** Tokens a bucket holds, i.e. the largest burst. */
  capacity: number;
  /** Time in which an empty bucket refills completely, in ms. */
  refillMs: number;
  /** Buckets kept before the oldest are dropped (a dropped bucket is as good as full). @default 100000 */
  maxKeys?: number;
}

/** `capacity` per `refillMs`, refilled continuously: the (capacity+1)th request of a burst is refused. */
export class TokenBucketLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly capacity: number;
  private readonly perMs: number;
  private readonly maxKeys: number;
  /** Requests refused since start; read by metrics. */
  refused = 0;

  constructor({ capacity, refillMs, maxKeys = 100_000 }: TokenBucketOptions) {
    this.capacity = capacity;
    this.perMs = capacity / refillMs;
    this.maxKeys = maxKeys;
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Takes one token: 0 when allowed, otherwise the ms until a token is available. */
  take(key: string, now: number): number {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= this.maxKeys) this.prune(now);
      bucket = { tokens: this.capacity, updatedAt: now };
      this.buckets.set(key, bucket);
    } else {
      bucket.tokens = Math.min(this.capacity, bucket.tokens + (now - bucket.updatedAt) * this.perMs);
      bucket.updatedAt = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    this.refused++;
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.perMs));
  }

  /** Returns a token taken for a request that turned out not to count. */
  refund(key: string): void {
    const bucket = this.buckets.get(key);
    if (bucket) bucket.tokens = Math.min(this.capacity, bucket.tokens + 1);
  }

  /** Drops buckets that have refilled completely (they hold no state a fresh bucket would not). */
  prune(now: number): void {
    for (const [key, b] of this.buckets) {
      if (b.tokens + (now - b.updatedAt) * this.perMs >= this.capacity) this.buckets.delete(key);
    }
    // Still full of busy keys: drop the oldest inserted, which at worst grants them a fresh burst.
    const excess = this.buckets.size - Math.floor(this.maxKeys * 0.9);
    if (excess > 0) {
      let n = 0;
      for (const key of this.buckets.keys()) {
        if (n++ >= excess) break;
        this.buckets.delete(key);
      }
    }
  }
}
