// TimeBudget: how much of the main thread analysis may take (pure; both clocks are injected). The analysis plumbing
// that runs on the main thread (posting batches to the worker, taking its replies, storing results) records the
// CPU time it used; once a window's share is used up, the next batch waits for the next window and messages wait in
// the queue. Where the worker shares the main thread's only core, a busy main thread also holds the worker back to
// one batch per window, so the write path keeps the core.

export interface TimeBudgetOptions {
  /** The share of wall time analysis may use on the main thread's CPU. @default 0.05 */
  fraction?: number;
  /** The window the share is counted over, in ms. @default 1000 */
  windowMs?: number;
  /**
   * Set when the worker shares the main thread's only core: while the main thread was busier than this share of
   * the last window, at most one batch goes out per window. Unset: never. @default undefined
   */
  busyShare?: number;
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
  private readonly busyShare: number | undefined;
  private readonly now: () => number;
  private readonly cpuNow: () => number;
  private windowStart: number;
  private spentMs = 0;
  /** The main thread's CPU at the window's start, and its busy share over the last whole window. */
  private windowCpu: number;
  private lastBusy = 0;
  private batchesInWindow = 0;

  constructor({ fraction = 0.05, windowMs = 1000, busyShare, now = () => performance.now(), cpuNow = threadCpuMs }: TimeBudgetOptions = {}) {
    this.fraction = fraction;
    this.windowMs = windowMs;
    this.busyShare = busyShare;
    this.now = now;
    this.cpuNow = cpuNow;
    this.windowStart = now();
    this.windowCpu = cpuNow();
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

  /** Records that a batch went to the worker (for the one-batch-per-window rule while the main thread is busy). */
  noteBatch(): void {
    this.roll();
    this.batchesInWindow++;
  }

  /**
   * 0 when analysis may go on now, otherwise how long to wait (ms): until the share is available again (what was
   * overspent in a window is carried into the next, so a burst is paid back rather than forgotten), or, with
   * `busyShare`, until the next window when the main thread is busy and this window's batch already went.
   */
  waitMs(): number {
    this.roll();
    const untilNext = this.windowStart + this.windowMs - this.now();
    if (this.spentMs >= this.fraction * this.windowMs) return untilNext;
    if (this.busyShare !== undefined && this.lastBusy > this.busyShare && this.batchesInWindow > 0) return untilNext;
    return 0;
  }

  /** The main thread's busy share over the last whole window (CPU time / wall time). */
  get mainBusy(): number {
    this.roll();
    return this.lastBusy;
  }

  private roll(): void {
    const now = this.now();
    const elapsed = Math.floor((now - this.windowStart) / this.windowMs);
    if (elapsed <= 0) return;
    const cpu = this.cpuNow();
    // A gap of several windows (nothing asked) counts as the average over the gap.
    this.lastBusy = (cpu - this.windowCpu) / (elapsed * this.windowMs);
    this.windowCpu = cpu;
    this.spentMs = Math.max(0, this.spentMs - this.fraction * this.windowMs * elapsed);
    this.windowStart += elapsed * this.windowMs;
    this.batchesInWindow = 0;
  }
}
