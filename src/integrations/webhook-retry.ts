// When to try a failed webhook delivery again (pure): exponential backoff with full jitter, a receiver's
// Retry-After (seconds or an HTTP date), and the retry window after which a delivery is dead.

/** The longest wait between two attempts, however many failed. */
export const RETRY_CAP_MS = 60 * 60 * 1000;

export interface RetryPolicy {
  /** The first backoff ceiling; attempt n waits a random time in [0, base·2^(n-1)]. (WEBHOOK_RETRY_BASE_MS) */
  baseMs: number;
  /** The retry window, from when the delivery was queued (or replayed). (WEBHOOK_MAX_AGE_SECONDS × 1000) */
  maxAgeMs: number;
  /** @default RETRY_CAP_MS */
  capMs?: number;
}

/**
 * Full-jitter backoff after `attempts` failed attempts (1 after the first failure): uniform in
 * [0, min(cap, base·2^(attempts-1))]. `random` is injected for tests.
 */
export function backoffMs(attempts: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const cap = policy.capMs ?? RETRY_CAP_MS;
  const ceiling = Math.min(cap, policy.baseMs * 2 ** Math.min(Math.max(attempts - 1, 0), 40));
  return Math.floor(random() * ceiling);
}

/**
 * A Retry-After header as milliseconds from `now`: delta-seconds or an HTTP date; null when absent or
 * unreadable (a date in the past is 0).
 */
export function parseRetryAfter(header: string | null | undefined, now: number): number | null {
  if (header === null || header === undefined) return null;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - now);
}

export type RetryDecision = { kind: "retry"; at: number } | { kind: "dead" };

/**
 * After a failed attempt: dead once the window since `queuedAt` has passed, otherwise the next attempt time —
 * the receiver's Retry-After when it gave one, the jittered backoff otherwise — never later than the end of
 * the window, so the last try happens at its end.
 */
export function nextAttempt(
  input: { attempts: number; queuedAt: number; now: number; retryAfterMs: number | null },
  policy: RetryPolicy,
  random: () => number = Math.random,
): RetryDecision {
  const deadline = input.queuedAt + policy.maxAgeMs;
  if (input.now >= deadline) return { kind: "dead" };
  const wait = input.retryAfterMs ?? backoffMs(input.attempts, policy, random);
  return { kind: "retry", at: Math.min(input.now + wait, deadline) };
}

/** How one attempt's response is treated: 2xx delivered; 410 disables the endpoint; anything else failed. */
export function classifyStatus(status: number): "delivered" | "gone" | "failed" {
  if (status >= 200 && status < 300) return "delivered";
  if (status === 410) return "gone";
  return "failed";
}
