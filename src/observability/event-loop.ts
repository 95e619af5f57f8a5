// Event-loop stall monitor: a short timer that measures how late it fires. Lateness is time the loop spent on
// something else: its own work (a long synchronous task, a blocking SQLite call, a GC pause) or, on a busy machine,
// waiting for a CPU core. On Linux the thread's run-queue wait (schedstat) tells the two apart. StallWindow and
// blockedMs are pure; the timer and its metrics are in startEventLoopMonitor.
import { openSync, readSync } from "node:fs";
import type { Metrics } from "./metrics.ts";

/** Histogram buckets for stalls, in seconds: the targets sit at 5 and 20 ms. */
export const STALL_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * The worst stall of the current and the previous slot, so a reader polling at least once per slot never misses
 * one and an old stall ages out. Times in ms. @param slotMs the slot length; @default 10_000
 */
export class StallWindow {
  private slotStart: number;
  private current = 0;
  private previous = 0;
  /** The worst stall since the window was created. */
  maxMs = 0;

  constructor(
    now: number,
    private readonly slotMs = 10_000,
  ) {
    this.slotStart = now;
  }

  record(lateMs: number, now: number): void {
    this.roll(now);
    if (lateMs > this.current) this.current = lateMs;
    if (lateMs > this.maxMs) this.maxMs = lateMs;
  }

  /** The worst stall within the last one to two slots. */
  recentMaxMs(now: number): number {
    this.roll(now);
    return Math.max(this.current, this.previous);
  }

  private roll(now: number): void {
    const elapsed = Math.floor((now - this.slotStart) / this.slotMs);
    if (elapsed <= 0) return;
    // One slot on: the current becomes the previous; two or more: both are empty.
    this.previous = elapsed === 1 ? this.current : 0;
    this.current = 0;
    this.slotStart += elapsed * this.slotMs;
  }
}

/** The part of a late tick the loop was held by its own work: the lateness minus the time it waited for a core. */
export function blockedMs(lateMs: number, cpuWaitMs: number): number {
  return Math.max(0, lateMs - cpuWaitMs);
}

/**
 * Reads the calling thread's run-queue wait in ms (time it was runnable but not running), or null where the kernel
 * does not report it. One pread of /proc/thread-self/schedstat, about 10 µs.
 */
export function cpuWaitReader(): (() => number) | null {
  let fd: number;
  try {
    fd = openSync("/proc/thread-self/schedstat", "r");
  } catch {
    return null;
  }
  const buf = Buffer.alloc(96);
  const read = () => {
    const n = readSync(fd, buf, 0, buf.length, 0);
    const fields = buf.toString("latin1", 0, n).split(" ");
    return Number(fields[1]) / 1e6;
  };
  try {
    return Number.isFinite(read()) ? read : null;
  } catch {
    return null;
  }
}

export interface EventLoopMonitor {
  /** The worst stall seen since start, in milliseconds. */
  readonly maxMs: number;
  /** The worst stall not explained by waiting for a core, since start, in milliseconds. */
  readonly maxBlockedMs: number;
  stop(): void;
}

/**
 * Starts the monitor: `sessiond_event_loop_stall_seconds` (histogram of every tick's lateness) and
 * `sessiond_event_loop_stall_max_seconds` (the worst in the last 10-20 s); on Linux also the same two for the loop's
 * own blocking (`sessiond_event_loop_blocked_*`: lateness minus run-queue wait) and the total run-queue wait
 * (`sessiond_event_loop_cpu_wait_seconds_total`). The timer is unref'd so it never keeps a process alive.
 * @param intervalMs how often the loop is sampled (each sample reads schedstat, ~10 µs); @default 20
 */
export function startEventLoopMonitor(metrics: Metrics, { intervalMs = 20 }: { intervalMs?: number } = {}): EventLoopMonitor {
  const stalls = metrics.histogram(
    "sessiond_event_loop_stall_seconds",
    `How late a ${intervalMs} ms timer ran: time the event loop was blocked.`,
    STALL_BUCKETS,
  );
  const window = new StallWindow(performance.now());
  metrics.gauge("sessiond_event_loop_stall_max_seconds", "The worst event-loop stall in the last 10 to 20 seconds.", () => window.recentMaxMs(performance.now()) / 1000);
  const cpuWait = cpuWaitReader();
  const blocked = new StallWindow(performance.now());
  let waited = cpuWait?.() ?? 0;
  const startWait = waited;
  const blockedStalls = cpuWait
    ? metrics.histogram(
        "sessiond_event_loop_blocked_seconds",
        "Event-loop stalls minus the time the loop waited for a CPU core: how long its own work held it.",
        STALL_BUCKETS,
      )
    : null;
  if (cpuWait) {
    metrics.gauge("sessiond_event_loop_blocked_max_seconds", "The worst stall of the loop's own making in the last 10 to 20 seconds.", () => blocked.recentMaxMs(performance.now()) / 1000);
    metrics.gauge("sessiond_event_loop_cpu_wait_seconds_total", "Time the event-loop thread was ready to run but waited for a CPU core (other processes).", () => (waited - startWait) / 1000);
  }
  let dueAt = performance.now() + intervalMs;
  const timer = setInterval(() => {
    const now = performance.now();
    // A timer can also fire a little early on a coarse clock: that is no stall.
    const late = Math.max(0, now - dueAt);
    dueAt = now + intervalMs;
    stalls.observe(late / 1000);
    window.record(late, now);
    if (cpuWait && blockedStalls) {
      const w = cpuWait();
      const own = blockedMs(late, w - waited);
      waited = w;
      blockedStalls.observe(own / 1000);
      blocked.record(own, now);
    }
  }, intervalMs);
  (timer as { unref?: () => void }).unref?.();
  return {
    get maxMs() {
      return window.maxMs;
    },
    get maxBlockedMs() {
      return cpuWait ? blocked.maxMs : window.maxMs;
    },
    stop: () => clearInterval(timer),
  };
}
