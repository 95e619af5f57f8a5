// Records audit entries off the hot path: entries queue in memory and are written in one short transaction a
// moment later (or when the queue fills, or before the trail is read, or at shutdown). Details are checked
// here so that no caller can put content into the trail.
import { unsafeDetailKey, type AuditRecord } from "./audit-chain.ts";

/** Where entries are written (db/AuditStore): chained and inserted in one transaction. */
export interface AuditSink {
  append(records: readonly AuditRecord[]): unknown;
}

export interface AuditRecorderOptions {
  /** How long an entry may wait to share a write with others. @default 200 */
  flushMs?: number;
  /** Entries that trigger a write at once. @default 256 */
  maxBatch?: number;
  now?: () => number;
  /** Told when a write failed; the entries stay queued and are tried again with the next write. */
  onError?: (error: unknown, pending: number) => void;
}

/** Most entries kept while writes fail (a locked or full disk); past it the oldest are dropped and counted. */
const MAX_PENDING = 100_000;

export class AuditRecorder {
  private pending: AuditRecord[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** A write to an asynchronous sink (PostgreSQL) still under way. */
  private inFlight: Promise<void> | null = null;
  private readonly flushMs: number;
  private readonly maxBatch: number;
  private readonly now: () => number;
  private readonly onError: (error: unknown, pending: number) => void;
  /** Entries lost because writes kept failing (reported on /metrics by the caller). */
  dropped = 0;

  constructor(
    private readonly sink: AuditSink,
    { flushMs = 200, maxBatch = 256, now = Date.now, onError = () => {} }: AuditRecorderOptions = {},
  ) {
    this.flushMs = flushMs;
    this.maxBatch = maxBatch;
    this.now = now;
    this.onError = onError;
  }

  get queued(): number {
    return this.pending.length;
  }

  /** Queues one entry (`at` defaults to now). Throws on a detail that could hold content: a programming error. */
  record(entry: Omit<AuditRecord, "at" | "detail"> & { at?: number; detail?: AuditRecord["detail"] }): void {
    const detail = entry.detail ?? null;
    const bad = unsafeDetailKey(detail);
    if (bad !== null) throw new Error(`audit detail "${bad}" is not a count or a short code; the audit trail never holds content`);
    this.pending.push({ ...entry, at: entry.at ?? this.now(), detail });
    if (this.pending.length > MAX_PENDING) {
      this.pending.shift();
      this.dropped++;
    }
    if (this.pending.length >= this.maxBatch) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.flushMs);
  }

  /** Writes everything queued now; true when nothing is left waiting. */
  flush(): boolean {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.length === 0) return true;
    const batch = this.pending;
    this.pending = [];
    const failed = (e: unknown) => {
      this.pending = batch.concat(this.pending);
      this.onError(e, this.pending.length);
      this.timer ??= setTimeout(() => this.flush(), Math.max(this.flushMs, 1000));
    };
    try {
      const written = this.sink.append(batch);
      if (written instanceof Promise) {
        // Writes to an asynchronous sink follow each other, so entries reach the chain in the order recorded.
        const previous = this.inFlight ?? Promise.resolve();
        const current: Promise<void> = previous.then(() => written).then(
          () => undefined,
          (e: unknown) => failed(e),
        );
        this.inFlight = current;
        void current.finally(() => {
          if (this.inFlight === current) this.inFlight = null;
        });
      }
      return true;
    } catch (e) {
      failed(e);
      return false;
    }
  }

  /** Resolves when writes already started have ended (immediately with a synchronous sink). */
  async settled(): Promise<void> {
    while (this.inFlight) await this.inFlight;
  }

  /** Stops the timer after a last write (shutdown). */
  close(): void {
    this.flush();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
