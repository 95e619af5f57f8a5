// WorkerAnalyzer: the built-in analyzer behind one Worker thread. Requests made in the same turn go over as one
// batch, one batch at a time; a batch the worker does not answer in time restarts the worker and fails its items.
import type { TimeBudget } from "./budget.ts";
import type { PriorityRequest, ThreadPriority } from "./thread-priority.ts";
import type { WorkerReply, WorkerRequest } from "./worker-protocol.ts";
import type { AnalysisCore } from "./types.ts";

/** Why a request failed: the worker did not answer in time, or it stopped (crashed, failed to start, shut down). */
export class WorkerAnalysisError extends Error {
  override readonly name = "WorkerAnalysisError";
  constructor(readonly reason: "timeout" | "crashed" | "stopped") {
    super(`the analysis worker ${reason === "timeout" ? "did not answer in time" : reason === "crashed" ? "stopped unexpectedly" : "was shut down"}`);
  }
}

export interface WorkerAnalyzerOptions {
  /** The worker's entry; defaults to analysis/worker.ts (or its compiled copy inside the binary). */
  url?: string | URL;
  topicsFile?: string;
  /** Most messages per batch. @default 32 */
  maxBatch?: number;
  /** Most characters per batch (a batch always takes at least one message). @default 262144 */
  maxBatchChars?: number;
  /** Longest the worker may take to answer one batch, in ms, before it is restarted. @default 30000 */
  timeoutMs?: number;
  /** Told when the worker is restarted (after a timeout or a crash). */
  onRestart?: (reason: "timeout" | "crashed") => void;
  /** The worker thread's priority: `idle` where it shares the main thread's core, else `low`. @default "low" */
  priority?: PriorityRequest;
  /** Told when a worker has loaded the analyzer, with the scheduling priority it runs at. */
  onStarted?: (priority: ThreadPriority) => void;
  /** Least time between two batches, in ms (requests made meanwhile join the next). @default 2 */
  minIntervalMs?: number;
  /** The main thread's share for analysis: posting and taking replies count against it; none posts while it is used up. */
  budget?: TimeBudget;
}

export interface WorkerResult {
  core: AnalysisCore;
  /** Compute time in the worker, ms. */
  ms: number;
}

interface Pending {
  id: number;
  text: string;
  resolve: (r: WorkerResult) => void;
  reject: (e: unknown) => void;
}

/**
 * Where the worker's code is: beside this file when running from source; inside a compiled binary, at the path
 * the build gives the extra entry point (`--root ./src` makes it analysis/worker.js under the binary's root).
 */
export function defaultWorkerUrl(): string {
  if (import.meta.path.endsWith(".ts")) return new URL("./worker.ts", import.meta.url).href;
  return `${import.meta.dir}/analysis/worker.js`;
}

export class WorkerAnalyzer {
  private worker: Worker | null = null;
  private readonly waiting: Pending[] = [];
  private inFlight: { batch: number; items: Map<number, Pending>; timer: ReturnType<typeof setTimeout> } | null = null;
  private nextId = 1;
  private nextBatch = 1;
  private scheduled = false;
  private stopped = false;
  private lastRestartAt = 0;
  private lastPostAt = -Infinity;
  /** False after a start-up failure or crash, until the worker answers again (for /health). */
  healthy = true;
  private onReady: (() => void) | null = null;
  private readonly opts: Required<Omit<WorkerAnalyzerOptions, "topicsFile" | "onRestart" | "onStarted" | "budget">> &
    Pick<WorkerAnalyzerOptions, "topicsFile" | "onRestart" | "onStarted" | "budget">;

  constructor(options: WorkerAnalyzerOptions = {}) {
    this.opts = { url: defaultWorkerUrl(), maxBatch: 32, maxBatchChars: 262_144, timeoutMs: 30_000, minIntervalMs: 2, priority: "low", ...options };
  }

  /**
   * Starts the worker thread and resolves once it has loaded the analyzer (or failed to), at most `waitMs` later;
   * requests made before that wait for it.
   */
  start(waitMs = 15_000): Promise<void> {
    const ready = new Promise<void>((resolve) => {
      this.onReady = resolve;
      setTimeout(resolve, waitMs).unref();
    });
    this.spawn();
    return ready;
  }

  /** Analyses one text in the worker. Rejects with WorkerAnalysisError (timeout, crashed, stopped). */
  analyze(text: string): Promise<WorkerResult> {
    if (this.stopped) return Promise.reject(new WorkerAnalysisError("stopped"));
    return new Promise((resolve, reject) => {
      this.waiting.push({ id: this.nextId++, text, resolve, reject });
      this.schedule();
    });
  }

  /** Stops the thread; whatever is waiting or in flight fails with `stopped`. */
  stop(): void {
    this.stopped = true;
    this.failInFlight(new WorkerAnalysisError("stopped"));
    for (const p of this.waiting.splice(0)) p.reject(new WorkerAnalysisError("stopped"));
    this.worker?.terminate();
    this.worker = null;
  }

  private spawn(): void {
    const worker = new Worker(this.opts.url);
    this.worker = worker;
    worker.onmessage = (e: MessageEvent<WorkerReply>) => this.onReply(worker, e);
    worker.onerror = () => this.onCrash(worker);
    worker.addEventListener("close", () => this.onCrash(worker));
    const init: WorkerRequest = { type: "init", priority: this.opts.priority, ...(this.opts.topicsFile !== undefined && { topicsFile: this.opts.topicsFile }) };
    worker.postMessage(init);
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight || this.waiting.length === 0 || !this.worker) return;
    this.scheduled = true;
    // Everything asked for in this turn goes in one batch; batches are at least minIntervalMs apart (so a busy
    // server sends few large ones), and none goes while the main thread's analysis budget is used up.
    const fire = () => {
      this.scheduled = false;
      this.post();
    };
    const wait = Math.max(this.opts.budget?.waitMs() ?? 0, this.lastPostAt + this.opts.minIntervalMs - performance.now());
    if (wait > 0) setTimeout(fire, wait);
    else setImmediate(fire);
  }

  private post(): void {
    if (this.inFlight || this.waiting.length === 0 || !this.worker) return;
    const budget = this.opts.budget;
    if (budget && budget.waitMs() > 0) return this.schedule();
    if (budget) budget.measure(() => this.postBatch());
    else this.postBatch();
  }

  private postBatch(): void {
    this.lastPostAt = performance.now();
    this.opts.budget?.noteBatch();
    const items = new Map<number, Pending>();
    let chars = 0;
    while (this.waiting.length > 0 && items.size < this.opts.maxBatch) {
      const next = this.waiting[0]!;
      if (items.size > 0 && chars + next.text.length > this.opts.maxBatchChars) break;
      this.waiting.shift();
      items.set(next.id, next);
      chars += next.text.length;
    }
    const batch = this.nextBatch++;
    const worker = this.worker!;
    const timer = setTimeout(() => {
      if (this.inFlight?.batch !== batch) return;
      this.failInFlight(new WorkerAnalysisError("timeout"));
      this.restart(worker, "timeout");
    }, this.opts.timeoutMs);
    this.inFlight = { batch, items, timer };
    const request: WorkerRequest = { type: "analyze", batch, items: [...items.values()].map((p) => ({ id: p.id, text: p.text })) };
    worker.postMessage(request);
  }

  private onReply(worker: Worker, event: MessageEvent<WorkerReply>): void {
    if (worker !== this.worker) return;
    // Reading `data` inside the measured part: taking the reply apart is main-thread work too.
    if (this.opts.budget) this.opts.budget.measure(() => this.handleReply(event.data));
    else this.handleReply(event.data);
  }

  private handleReply(reply: WorkerReply): void {
    if (reply.type === "ready") {
      this.healthy = true;
      this.opts.onStarted?.(reply.priority);
      this.onReady?.();
      return;
    }
    if (reply.type === "failed") {
      this.healthy = false;
      this.onReady?.();
      this.failInFlight(new WorkerAnalysisError("crashed"));
      for (const p of this.waiting.splice(0)) p.reject(new WorkerAnalysisError("crashed"));
      return;
    }
    const flight = this.inFlight;
    if (!flight || flight.batch !== reply.batch) return;
    clearTimeout(flight.timer);
    this.inFlight = null;
    this.healthy = true;
    for (const r of reply.results) {
      const p = flight.items.get(r.id);
      if (!p) continue;
      flight.items.delete(r.id);
      if (r.ok) p.resolve({ core: r.core, ms: r.ms });
      else p.reject(new WorkerAnalysisError("crashed"));
    }
    for (const p of flight.items.values()) p.reject(new WorkerAnalysisError("crashed"));
    this.schedule();
  }

  private onCrash(worker: Worker): void {
    if (worker !== this.worker || this.stopped) return;
    this.healthy = false;
    this.failInFlight(new WorkerAnalysisError("crashed"));
    this.restart(worker, "crashed");
  }

  private failInFlight(error: WorkerAnalysisError): void {
    const flight = this.inFlight;
    if (!flight) return;
    clearTimeout(flight.timer);
    this.inFlight = null;
    for (const p of flight.items.values()) p.reject(error);
  }

  private restart(worker: Worker, reason: "timeout" | "crashed"): void {
    if (worker !== this.worker || this.stopped) return;
    this.worker = null;
    worker.terminate();
    this.opts.onRestart?.(reason);
    // At most one restart a second, so a worker that cannot start does not spin.
    const wait = Math.max(0, this.lastRestartAt + 1000 - Date.now());
    this.lastRestartAt = Date.now() + wait;
    setTimeout(() => {
      if (this.stopped) return;
      this.spawn();
      this.schedule();
    }, wait);
  }
}
