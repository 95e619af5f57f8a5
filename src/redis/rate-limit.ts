// A token bucket shared by every node (the per-user message rate across nodes): the same rule as
// auth/token-bucket.ts, applied by one Lua script per call so that concurrent takes from several nodes are atomic.
// A bucket's key expires once it would be full again (a missing key is a full bucket).
import type { Redis } from "./connection.ts";
import { LuaScript } from "./script.ts";

export interface RedisTokenBucketOptions {
  /** A command connection (may be shared). Give it a `commandTimeoutMs` so a hung Redis cannot hold a sender. */
  redis: Redis;
  /** Tokens a bucket holds, i.e. the largest burst. */
  capacity: number;
  /** Time in which an empty bucket refills completely, in ms. */
  refillMs: number;
  /** Key prefix shared by the nodes of one cluster. @default "sessiond:rate" */
  prefix?: string;
  /**
   * What `take` answers when Redis cannot: allow (the limit lapses during an outage, messages still flow) or
   * refuse for `refillMs / capacity` ms. @default "allow"
   */
  whenUnavailable?: "allow" | "refuse";
  /** A Redis command failed (no key or content in it). */
  onError?: (error: Error) => void;
}

// KEYS[1] the bucket. ARGV: capacity, refillMs, now (ms), "take" | "refund". A take answers 0 when allowed, else
// the ms until a token. Time never runs backwards for a bucket: a node whose clock is behind refills nothing.
const BUCKET = new LuaScript(`
local capacity, refillMs, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local perMs = capacity / refillMs
local state = redis.call('HMGET', KEYS[1], 't', 'u')
local tokens, updated = tonumber(state[1]), tonumber(state[2])
if tokens == nil then
  if ARGV[4] == 'refund' then return 0 end
  tokens, updated = capacity, now
elseif now > updated then
  tokens = math.min(capacity, tokens + (now - updated) * perMs)
  updated = now
end
local wait = 0
if ARGV[4] == 'refund' then
  tokens = math.min(capacity, tokens + 1)
elseif tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.max(1, math.ceil((1 - tokens) / perMs))
end
if tokens >= capacity then
  redis.call('DEL', KEYS[1])
else
  -- %.17g keeps every bit of the double (tostring keeps 14 digits and a wait could come out 1 ms off)
  redis.call('HSET', KEYS[1], 't', string.format('%.17g', tokens), 'u', string.format('%d', updated))
  redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil((capacity - tokens) / perMs)))
end
return wait
`);

/** `capacity` per `refillMs`, refilled continuously, one bucket per key across every node. */
export class RedisTokenBucket {
  /** Requests refused since start (by this node); read by metrics. */
  refused = 0;
  /** Calls Redis could not answer. */
  failures = 0;

  private readonly redis: Redis;
  private readonly capacity: number;
  private readonly refillMs: number;
  private readonly prefix: string;
  private readonly whenUnavailable: "allow" | "refuse";
  private readonly onError: (error: Error) => void;

  constructor({ redis, capacity, refillMs, prefix = "sessiond:rate", whenUnavailable = "allow", onError = () => {} }: RedisTokenBucketOptions) {
    this.redis = redis;
    this.capacity = capacity;
    this.refillMs = refillMs;
    this.prefix = prefix;
    this.whenUnavailable = whenUnavailable;
    this.onError = onError;
  }

  /** Takes one token: 0 when allowed, otherwise the ms until a token is available. Never rejects. */
  async take(key: string, now: number): Promise<number> {
    try {
      const wait = Number(await BUCKET.run(this.redis, [`${this.prefix}:${key}`], [this.capacity, this.refillMs, Math.floor(now), "take"]));
      if (wait > 0) this.refused++;
      return wait;
    } catch (error) {
      this.failed(error);
      return this.whenUnavailable === "allow" ? 0 : Math.max(1, Math.ceil(this.refillMs / this.capacity));
    }
  }

  /** Returns a token taken for a request that turned out not to count. Never rejects. */
  async refund(key: string): Promise<void> {
    try {
      await BUCKET.run(this.redis, [`${this.prefix}:${key}`], [this.capacity, this.refillMs, 0, "refund"]);
    } catch (error) {
      this.failed(error);
    }
  }

  private failed(error: unknown): void {
    this.failures++;
    try {
      this.onError(error instanceof Error ? error : new Error(String(error)));
    } catch {
      // A reporter that throws must not fail the request.
    }
  }
}
