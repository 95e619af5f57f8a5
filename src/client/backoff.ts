// Reconnect delays: exponential backoff with full jitter (pure).

export interface BackoffOptions {
  baseMs: number;
  capMs: number;
}

/**
 * The delay before reconnect attempt `attempt` (1, 2, …): uniformly random in [0, min(cap, base·2^(attempt−1))).
 * Full jitter spreads out the clients that all lost the same server at the same moment.
 */
export function backoffDelay(attempt: number, { baseMs, capMs }: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(Math.max(attempt, 1) - 1, 30));
  return Math.floor(random() * ceiling);
}
