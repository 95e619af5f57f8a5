// How sessiond opens a Redis connection (ioredis): reconnect forever with a capped backoff, errors reported
// instead of thrown as events, and a bounded wait (no unbounded offline queue) unless the role asks for one.
import Redis from "ioredis";
import { SessiondError } from "../protocol/errors.ts";

export type { Redis };

export interface RedisConnectionOptions {
  /** Shown in `CLIENT LIST` (e.g. `sessiond:node-1:pub`). */
  name: string;
  /**
   * Whether commands issued while the link is down wait for it (in memory) or fail at once. A publisher and the
   * limiter fail at once: a receiver fills gaps from storage, a sender is not held up by a Redis outage.
   * @default false
   */
  offlineQueue?: boolean;
  /** Rejects a command that has no reply after this long, in ms; 0 waits forever. @default 0 */
  commandTimeoutMs?: number;
  /** Largest pause between reconnect attempts, in ms. @default 1000 */
  maxBackoffMs?: number;
  /** Whether ioredis subscribes again by itself after a reconnect. @default true */
  autoResubscribe?: boolean;
  /** Called for each connection error; the message names no content (ioredis reports socket errors). */
  onError?: (error: Error) => void;
}

/** A connection that is not connected yet (`await connectRedis(conn)` connects it). */
export function openRedis(url: string, { name, offlineQueue = false, commandTimeoutMs = 0, maxBackoffMs = 1000, autoResubscribe = true, onError }: RedisConnectionOptions): Redis {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectionName: name,
    enableOfflineQueue: offlineQueue,
    // With an offline queue, commands wait for the link however long it takes (the queue is the bound).
    maxRetriesPerRequest: offlineQueue ? null : 1,
    commandTimeout: commandTimeoutMs > 0 ? commandTimeoutMs : undefined,
    enableAutoPipelining: true,
    autoResubscribe,
    // Retry forever: a node outlives a Redis restart. Jitter keeps nodes from reconnecting in lockstep.
    retryStrategy: (attempt) => Math.min(maxBackoffMs, 50 * 2 ** Math.min(attempt, 10)) * (0.5 + Math.random() / 2),
  });
  // An EventEmitter "error" with no listener throws: always listen.
  redis.on("error", (error: Error) => onError?.(error));
  return redis;
}

/** Connects, or rejects with `unavailable` and a sentence after `timeoutMs` (the client is closed then). */
export async function connectRedis(redis: Redis, url: string, timeoutMs = 10_000): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const ready = new Promise<void>((resolve) => {
    if (redis.status === "ready") return resolve();
    redis.once("ready", () => resolve());
  });
  // connect() rejects on the first failed attempt while ioredis keeps retrying; wait for "ready" instead.
  redis.connect().catch(() => {});
  try {
    await Promise.race([
      ready,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new SessiondError("unavailable", `Redis at ${where(url)} did not answer within ${timeoutMs >= 1000 ? `${Math.round(timeoutMs / 1000)} s` : `${timeoutMs} ms`}.`)), timeoutMs);
      }),
    ]);
  } catch (error) {
    redis.disconnect();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** Closes politely when the link is up (pending replies arrive), at once otherwise. */
export async function closeRedis(redis: Redis, timeoutMs = 1000): Promise<void> {
  if (redis.status === "end") return;
  if (redis.status === "ready") {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([redis.quit().catch(() => {}), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }
  redis.disconnect();
}

/** host:port of a Redis URL, without credentials (for readable errors). */
export function where(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || "6379"}`;
  } catch {
    return "the configured address";
  }
}
