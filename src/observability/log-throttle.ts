// A repeated warning logged once per interval, with how many were held back in between (pure): a fault that lasts
// must not write a line per second.
export class LogThrottle {
  private lastAt = -Infinity;
  private held = 0;

  constructor(private readonly intervalMs: number) {}

  /** Whether to log now; when so, `held` is how many calls since the last logged one were not logged. */
  take(now: number): { log: true; held: number } | { log: false } {
    if (now - this.lastAt < this.intervalMs) {
      this.held++;
      return { log: false };
    }
    const held = this.held;
    this.lastAt = now;
    this.held = 0;
    return { log: true, held };
  }
}
