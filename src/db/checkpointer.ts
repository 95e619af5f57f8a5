// WAL checkpoints on a worker thread with its own connection. A checkpoint copies WAL pages into the database file
// and fsyncs it: tens of milliseconds that, run by a commit on the main thread (SQLite's auto-checkpoint) or by the
// maintenance job, stalled the event loop every few seconds. A PASSIVE checkpoint on another connection never
// blocks the writer, so here it costs the event loop nothing.

export type CheckpointMode = "passive" | "truncate";

export interface CheckpointResult {
  mode: CheckpointMode;
  /** Frames in the WAL, and how many of them are now in the database file. */
  walPages: number;
  checkpointed: number;
  /** True when another connection kept it from completing (it never waits). */
  busy: boolean;
  ms: number;
}

export interface Checkpointer {
  /** Asks for a checkpoint now; null when one is already running or the worker is gone. */
  checkpoint(mode: CheckpointMode): Promise<CheckpointResult | null>;
  /** The last completed checkpoint. */
  readonly last: CheckpointResult | null;
  /** Whether the worker is up (false after a failure: the caller should fall back to auto-checkpoints). */
  readonly alive: boolean;
  /** Stops the timer and closes the worker's connection; the caller's own final checkpoint comes after. */
  stop(): Promise<void>;
}

export interface CheckpointerOptions {
  /** How often a PASSIVE checkpoint runs. @default 1000 */
  intervalMs?: number;
  /** Told when a checkpoint fails or the worker dies (with the error's code and message only). */
  onError?: (error: { code?: string; message: string }) => void;
}

type Request = { id: number; open: string } | { id: number; mode: CheckpointMode } | { id: number; close: true };
type Reply = { id: number; result?: Omit<CheckpointResult, "ms" | "mode"> & { ms: number }; error?: { code?: string; message: string } };

/**
 * The worker's whole program. It is serialized with toString() and started from a Blob, so the compiled binary
 * needs no separate entry point; it must not refer to anything outside itself.
 */
function checkpointWorker(): void {
  const scope = self as unknown as { onmessage: ((e: MessageEvent<Request>) => void) | null; postMessage(reply: Reply): void };
  const pending: Request[] = [];
  let handle: ((req: Request) => void) | null = null;
  scope.onmessage = (e) => (handle ? handle(e.data) : pending.push(e.data));
  void import("bun:sqlite").then(({ Database }) => {
    let db: InstanceType<typeof Database> | null = null;
    handle = (req) => {
      try {
        if ("open" in req) {
          db = new Database(req.open, { strict: true });
          // Never wait for a lock: a PASSIVE checkpoint needs none, and a TRUNCATE that finds one reports busy.
          db.run("PRAGMA busy_timeout = 0");
          scope.postMessage({ id: req.id });
        } else if ("close" in req) {
          db?.close();
          db = null;
          scope.postMessage({ id: req.id });
        } else {
          const started = performance.now();
          const row = db!.query<{ busy: number; log: number; checkpointed: number }, []>(`PRAGMA wal_checkpoint(${req.mode === "truncate" ? "TRUNCATE" : "PASSIVE"})`).get()!;
          scope.postMessage({ id: req.id, result: { walPages: row.log, checkpointed: row.checkpointed, busy: row.busy === 1, ms: performance.now() - started } });
        }
      } catch (e) {
        const err = e as { code?: unknown; message?: unknown };
        scope.postMessage({ id: req.id, error: { code: typeof err.code === "string" ? err.code : undefined, message: String(err.message ?? e) } });
      }
    };
    for (const req of pending.splice(0)) handle(req);
  });
}

/** Starts the worker on the database at `path` and a PASSIVE checkpoint every intervalMs. */
export function startCheckpointer(path: string, { intervalMs = 1000, onError }: CheckpointerOptions = {}): Checkpointer {
  const source = `(${checkpointWorker.toString()})();`;
  const url = URL.createObjectURL(new Blob([source], { type: "application/javascript" }));
  const worker = new Worker(url, { smol: true });
  let nextId = 1;
  let alive = true;
  let running = false;
  let last: CheckpointResult | null = null;
  const waiting = new Map<number, (reply: Reply) => void>();

  const fail = (error: { code?: string; message: string }) => {
    if (!alive) return;
    alive = false;
    clearInterval(timer);
    onError?.(error);
    for (const resolve of waiting.values()) resolve({ id: 0, error });
    waiting.clear();
  };
  worker.onmessage = (e: MessageEvent<Reply>) => {
    const resolve = waiting.get(e.data.id);
    waiting.delete(e.data.id);
    resolve?.(e.data);
  };
  worker.onerror = (e) => fail({ message: `checkpoint worker failed: ${e.message}` });
  // A worker that keeps nothing alive of its own: the server's shutdown decides when the process ends.
  (worker as { unref?: () => void }).unref?.();

  const send = (req: Omit<Request, "id"> & Record<string, unknown>): Promise<Reply> => {
    if (!alive) return Promise.resolve({ id: 0, error: { message: "checkpoint worker stopped" } });
    const id = nextId++;
    return new Promise((resolve) => {
      waiting.set(id, resolve);
      worker.postMessage({ ...req, id });
    });
  };
  const opened = send({ open: path }).then((r) => {
    if (r.error) fail(r.error);
  });

  const checkpoint = async (mode: CheckpointMode): Promise<CheckpointResult | null> => {
    if (!alive || running) return null;
    running = true;
    try {
      await opened;
      const reply = await send({ mode });
      if (reply.error) {
        // A checkpoint that could not run (an I/O error, a full disk) is retried next time; the WAL keeps everything.
        onError?.(reply.error);
        return null;
      }
      last = { mode, ...reply.result! };
      return last;
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void checkpoint("passive"), intervalMs);
  (timer as { unref?: () => void }).unref?.();

  return {
    checkpoint,
    get last() {
      return last;
    },
    get alive() {
      return alive;
    },
    async stop() {
      clearInterval(timer);
      if (alive) {
        await Promise.race([send({ close: true }), Bun.sleep(2000)]);
        alive = false;
      }
      worker.terminate();
      URL.revokeObjectURL(url);
    },
  };
}
