// TimeBudget: how much of the main thread's CPU analysis may take (pure; both clocks are injected). The analysis
// plumbing that runs on the main thread (posting batches to the worker, taking its replies, storing results)
// records the CPU time it used; once a window's share is used up, the next batch waits for the next window and
// messages wait in the queue, so a busy write path keeps the CPU.

export interface TimeBudgetOptions {
  /** The share of wall time analysis may use on the main thread's CPU. @default 0.05 */
  fraction?: number;
  /** The window the share is counted over, in ms. @default 1000 */
  windowMs?: number;
  /** Wall clock for the windows, ms. @default performance.now */
  now?: () => number;
  /** The calling thread's CPU time, ms (CPU, not wall: being preempted is not spending). @default process.threadCpuUsage */
  cpuNow?: () => number;
}

const threadCpuMs = (): number => {
  const u = process.threadCpuUsage();
  return (u.user + u.system) / 1000;
};

export class TimeBudget {
  private readonly fraction: number;
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly cpuNow: () => number;
  private windowStart: number;
  private spentMs = 0;

  constructor({ fraction = 0.05, windowMs = 1000, now = () => performance.now(), cpuNow = threadCpuMs }: TimeBudgetOptions = {}) {
    this.fraction = fraction;
    this.windowMs = windowMs;
    this.now = now;
    this.cpuNow = cpuNow;
    this.windowStart = now();
  }

  /** Records `ms` of main-thread CPU spent on analysis. */
  spend(ms: number): void {
    this.roll();
    this.spentMs += ms;
  }

  /** Runs `fn` and records the CPU time it took. */
  measure<T>(fn: () => T): T {
    const started = this.cpuNow();
    try {
      return fn();
    } finally {
      this.spend(this.cpuNow() - started);
    }
  }

  /**
   * 0 when analysis may go on now, otherwise how long to wait (ms) for the share to be available again. What was
   * overspent in a window is carried into the next, so a burst is paid back rather than forgotten.
   */
  waitMs(): number {
    this.roll();
    if (this.spentMs < this.fraction * this.windowMs) return 0;
    return this.windowStart + this.windowMs - this.now();
  }

  private roll(): void {
    const now = this.now();
    const elapsed = Math.floor((now - this.windowStart) / this.windowMs);
    if (elapsed <= 0) return;
    this.spentMs = Math.max(0, this.spentMs - this.fraction * this.windowMs * elapsed);
    this.windowStart += elapsed * this.windowMs;
  }
}
