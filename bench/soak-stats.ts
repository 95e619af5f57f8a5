// Small measuring helpers for the soak and the fault trials: percentiles, a process's RSS, and the server's
// event-loop stall metrics read from /metrics.
import { readFileSync } from "node:fs";

/** The p-th percentile (nearest rank) of `xs` in the same unit; NaN when empty. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** Resident memory split as the kernel counts it (MB): anonymous (heaps), file-backed (code, mapped files), shared memory (SQLite's -shm). */
export function rssParts(pid: number): { anonMB: number; fileMB: number; shmemMB: number } {
  const text = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(text)?.[1] ?? NaN) / 1024;
  return { anonMB: kb("RssAnon"), fileMB: kb("RssFile"), shmemMB: kb("RssShmem") };
}

/** Resident memory of a process in bytes (Linux /proc). */
export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : NaN;
}

export interface StallScrape {
  /** Cumulative counts of `sessiond_ack_latency_seconds` (arrival to durable commit, measured by the server), by bound in ms. */
  ackBuckets: Map<number, number>;
  /** `sessiond_event_loop_stall_max_seconds` in ms: the worst stall of the last 10-20 s. */
  recentMaxMs: number;
  /** `sessiond_event_loop_blocked_max_seconds` in ms: the same without time spent waiting for a core (NaN if absent). */
  recentBlockedMaxMs: number;
  /** Ticks that were at least `ms` late so far (from the histogram; `ms` must be a bucket bound). */
  countAbove(ms: number): number;
  /** The same for the loop's own blocking. */
  blockedAbove(ms: number): number;
}

/** Reads the stall metrics of a running server. */
export async function scrapeStalls(http: string, headers: Record<string, string> = {}): Promise<StallScrape> {
  const text = await (await fetch(`${http}/metrics`, { headers })).text();
  const gauge = (name: string) => {
    const m = new RegExp(`^${name} ([0-9.e+-]+)$`, "m").exec(text);
    return m ? Number(m[1]) * 1000 : NaN;
  };
  const above = (name: string) => {
    const buckets = new Map<string, number>();
    for (const m of text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\d+)$`, "gm"))) buckets.set(m[1]!, Number(m[2]));
    const total = buckets.get("+Inf") ?? 0;
    return (ms: number) => {
      const le = buckets.get(String(ms / 1000));
      if (le === undefined) return NaN;
      return total - le;
    };
  };
  const ackBuckets = new Map<number, number>();
  for (const m of text.matchAll(/^sessiond_ack_latency_seconds_bucket\{le="([^"]+)"\} (\d+)$/gm)) ackBuckets.set(m[1] === "+Inf" ? Infinity : Number(m[1]) * 1000, Number(m[2]));
  return {
    ackBuckets,
    recentMaxMs: gauge("sessiond_event_loop_stall_max_seconds"),
    recentBlockedMaxMs: gauge("sessiond_event_loop_blocked_max_seconds"),
    countAbove: above("sessiond_event_loop_stall_seconds"),
    blockedAbove: above("sessiond_event_loop_blocked_seconds"),
  };
}

/** The main thread's CPU time and time spent waiting for a CPU (run-queue delay), both in ms (Linux schedstat). */
export function schedOf(pid: number): { cpuMs: number; waitMs: number } {
  try {
    const [cpu, wait] = readFileSync(`/proc/${pid}/schedstat`, "utf8").trim().split(/\s+/).map(Number);
    return { cpuMs: (cpu ?? NaN) / 1e6, waitMs: (wait ?? NaN) / 1e6 };
  } catch {
    return { cpuMs: NaN, waitMs: NaN };
  }
}

/**
 * The p-th percentile of the server's ack latency between two scrapes, as the bucket bound it falls under (ms): a
 * coarse figure (bounds 0.5, 1, 2, 5, 10, 25 ms, ...) but free of the load generator's own delays.
 */
export function serverAckPercentile(from: StallScrape, to: StallScrape, p: number): number {
  const bounds = [...to.ackBuckets.keys()].sort((a, b) => a - b);
  const total = (to.ackBuckets.get(Infinity) ?? 0) - (from.ackBuckets.get(Infinity) ?? 0);
  if (total === 0) return NaN;
  for (const b of bounds) if ((to.ackBuckets.get(b)! - (from.ackBuckets.get(b) ?? 0)) / total >= p / 100) return b;
  return Infinity;
}

/** Measures this process's own event-loop lateness (the load generator's), worst per window. */
export function generatorStalls(intervalMs = 10): { takeMax(): number; stop(): void } {
  let due = performance.now() + intervalMs;
  let max = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    max = Math.max(max, now - due);
    due = now + intervalMs;
  }, intervalMs);
  return {
    takeMax() {
      const m = max;
      max = 0;
      return m;
    },
    stop: () => clearInterval(timer),
  };
}

/** Time the hypervisor ran something else on `cpu` (steal), in ms so far (Linux /proc/stat, 10 ms ticks). */
export function stealOf(cpu: number): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n").find((l) => l.startsWith(`cpu${cpu} `));
  const steal = Number(line?.trim().split(/\s+/)[8]);
  return Number.isFinite(steal) ? steal * 10 : NaN;
}

/**
 * Samples what the server's main thread is doing every `everyMs` (its state and kernel wait channel), so a long
 * stall can be told apart: running (R), sleeping in the event loop (S do_epoll_wait), or blocked in the kernel
 * (D, or S in another wait channel such as a write throttled behind a busy disk). `take()` returns the counts of
 * the non-idle states seen since the last call, most frequent first.
 */
export function threadStates(pid: number, everyMs = 20): { take(): Array<[string, number]>; stop(): void } {
  let counts = new Map<string, number>();
  const timer = setInterval(() => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
      const wchan = readFileSync(`/proc/${pid}/wchan`, "utf8").trim() || "-";
      if (state === "S" && wchan === "do_epoll_wait") return;
      const key = `${state} ${wchan}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    } catch {
      // gone
    }
  }, everyMs);
  return {
    take() {
      const out = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 4);
      counts = new Map();
      return out;
    },
    stop: () => clearInterval(timer),
  };
}

/** GC pauses read from a server started with BUN_JSC_logGC=1 ("p=1.2ms" on stderr): the worst and how many were over 5 ms, per take(). */
export function gcPauses(stderr: ReadableStream<Uint8Array> | null): { take(): { gcPauseMaxMs: number; gcPausesOver5ms: number } } {
  let max = 0;
  let over = 0;
  if (stderr) {
    void (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of stderr) {
        for (const m of decoder.decode(chunk, { stream: true }).matchAll(/ p=([0-9.]+)ms/g)) {
          const ms = Number(m[1]);
          max = Math.max(max, ms);
          if (ms > 5) over++;
        }
      }
    })();
  }
  return {
    take() {
      const r = { gcPauseMaxMs: max, gcPausesOver5ms: over };
      max = 0;
      over = 0;
      return r;
    },
  };
}
