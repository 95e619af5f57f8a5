// TimeBudget: how much of the main thread's time analysis may take (pure; the clock is injected). The analysis
// plumbing that runs on the main thread (posting batches to the worker, storing results) records what it spent;
// once a window's share is used up, the next batch waits for the next window and messages wait in the queue.

export interface TimeBudgetOptions {
  /** The share of wall time analysis may use on the main thread. @default 0.05 */
  fraction?: number;
  /** The window the share is counted over, in ms. @default 1000 */
  windowMs?: number;
  /** @default performance.now */
  now?: () => number;
}

export class TimeBudget {
  private readonly fraction: number;
  private readonly windowMs: number;
  private readonly now: () => number;
  private windowStart: number;
  private spentMs = 0;

  constructor({ fraction = 0.05, windowMs = 1000, now = () => performance.now() }: TimeBudgetOptions = {}) {
    this.fraction = fraction;
    this.windowMs = windowMs;
    this.now = now;
    this.windowStart = now();
  }

  /** Records `ms` of main-thread time spent on analysis. */
  spend(ms: number): void {
    this.roll();
    this.spentMs += ms;
  }

  /** Runs `fn` and records the time it took. */
  measure<T>(fn: () => T): T {
    const started = this.now();
    try {
      return fn();
    } finally {
      this.spend(this.now() - started);
    }
  }

  /**
   * 0 when analysis may go on now, otherwise how long to wait (ms) for the share to be available again. What was
   * overspent in a window is carried into the next, so a burst is paid back rather than forgotten.
   */
  waitMs(): number {
    this.roll();
    const allowance = this.fraction * this.windowMs;
    if (this.spentMs < allowance) return 0;
    return this.windowStart + this.windowMs - this.now();
  }

  private roll(): void {
    const now = this.now();
    const elapsed = Math.floor((now - this.windowStart) / this.windowMs);
    if (elapsed <= 0) return;
    const allowance = this.fraction * this.windowMs;
    this.spentMs = Math.max(0, this.spentMs - allowance * elapsed);
    this.windowStart += elapsed * this.windowMs;
  }
}
