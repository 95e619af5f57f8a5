// The archive writer (a Subscriber): for each archive job (one per ended session, written with the end), the
// transcript document goes to ARCHIVE_DIR atomically; failures are logged, shown on /health and retried. The job
// store may be this node's SQLite file or a database every node shares (PostgreSQL: claims with a lease).
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { ArchiveJobRow, ArchiveJobStore } from "../db/archive-store.ts";
import type { Logger } from "../observability/logger.ts";
import type { Counter } from "../observability/metrics.ts";
import type { Message, SessionInfo } from "../protocol/types.ts";
import type { Subscriber } from "../sessions/subscriber.ts";
import { transcriptChunks, transcriptChunksLater, type TranscriptFormat, type TranscriptSummary } from "../sessions/transcript.ts";
import type { Awaitable } from "../sessions/awaitable.ts";
import { writeFileAtomic } from "./archive-file.ts";
import { archiveRelativePath } from "./archive-path.ts";

/** How soon a run that failed on the archive's own bookkeeping is tried again, in ms. */
const STORE_RETRY_MS = 1000;

/** Where archive jobs are kept (SqliteArchiveStore, PgArchiveStore); every answer may be a promise. */
export interface ArchiverOptions {
  store: ArchiveJobStore;
  /** ARCHIVE_DIR, absolute. */
  root: string;
  format: TranscriptFormat;
  /**
   * The transcript as a staff reader exports it (analysis attached, and the summary a staff export puts at the top
   * of Markdown); null when the session no longer exists.
   */
  read: (sessionId: string) => Awaitable<{ session: SessionInfo; pages: Iterable<Message[]> | AsyncIterable<Message[]>; summary?: TranscriptSummary } | null>;
  /** Whether the session still has recent user messages waiting for their analysis. @default never */
  analysisPending?: (sessionId: string) => Awaitable<boolean>;
  /** How long after the end a job waits for those analyses at most. @default 2000 */
  analysisGraceMs?: number;
  logger: Logger;
  metrics: { written: Counter; failures: Counter };
  /** First retry delay; doubles per failure up to retryCapMs. @default 500 */
  retryBaseMs?: number;
  /** @default 5000 */
  retryCapMs?: number;
  /** How long stop() keeps writing due jobs (sessions ended at shutdown). @default 5000 */
  drainMs?: number;
  /** With a store other nodes write to: also look this often for jobs they recorded or left behind. @default never */
  pollMs?: number;
  now?: () => number;
}

export class Archiver implements Subscriber {
  readonly name = "archive";
  private readonly failing = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private timerAt = Infinity;
  private running: Promise<void> | null = null;
  /** The last run stopped on the archive's own SQLite bookkeeping (see runAndReschedule). */
  private storeFailing = false;
  private stopped = true;
  private draining = false;
  private pending = 0;
  private readonly now: () => number;

  constructor(private readonly o: ArchiverOptions) {
    this.now = o.now ?? Date.now;
  }

  start(): void {
    this.stopped = false;
    this.kick();
  }

  /** Writes what is due before returning (up to drainMs): sessions ended at shutdown are archived before exit. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
    this.draining = true;
    const deadline = this.now() + (this.o.drainMs ?? 5000);
    // Jobs put off for their analyses (or with a retry due within a second) are written now too.
    try {
      for (const job of await this.o.store.due(this.now() + 1000, 1000)) {
        if (this.now() >= deadline) break;
        await this.write(job);
      }
      await this.o.store.release?.();
    } catch (e) {
      // Left as they are: the jobs are still due, and the next start writes them.
      this.o.logger.warn("archive.store_failed", { code: errorCode(e), retryInMs: null });
    }
  }

  /** False while the last attempt at some pending archive failed (shown as `checks.archive` on /health). */
  healthy(): boolean {
    return this.failing.size === 0 && !this.storeFailing;
  }

  /** Pending jobs as of the last run (for the gauge, which must answer synchronously). */
  pendingCount(): number {
    return this.pending;
  }

  /** Looks for due jobs on the next turn (after the end that wrote one has committed). */
  kick(): void {
    this.schedule(this.now());
  }

  private schedule(at: number): void {
    if (this.stopped || at >= this.timerAt) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      if (this.running) {
        // A run is in progress; it looks again when it ends.
        void this.running.then(() => this.kick());
        return;
      }
      this.running = this.runAndReschedule().finally(() => (this.running = null));
    }, Math.min(Math.max(0, at - this.now()), 60_000));
  }

  /**
   * One run, then the timer for the next due job. When the archive's own bookkeeping fails (a busy or full SQLite
   * file, an unreachable database), the run is logged and tried again a second later, never left to end the process.
   */
  private async runAndReschedule(): Promise<void> {
    let next: number | null;
    try {
      await this.run();
      next = await this.o.store.nextDueAt();
      this.pending = await this.o.store.pendingCount();
      if (this.failing.size > 0 && this.o.store.stillPending) {
        const still = new Set(await this.o.store.stillPending([...this.failing]));
        for (const id of this.failing) if (!still.has(id)) this.failing.delete(id);
      }
      this.storeFailing = false;
    } catch (e) {
      const code = errorCode(e);
      if (!this.storeFailing) this.o.logger.warn("archive.store_failed", { code, retryInMs: STORE_RETRY_MS });
      this.storeFailing = true;
      this.o.metrics.failures.inc({ code });
      next = this.now() + STORE_RETRY_MS;
    }
    if (this.o.pollMs !== undefined) next = Math.min(next ?? Infinity, this.now() + this.o.pollMs);
    if (next !== null) this.schedule(next);
  }

  private async run(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const jobs = await this.o.store.due(this.now(), 20);
      if (jobs.length === 0) return;
      for (const job of jobs) {
        if (this.stopped) return;
        await this.write(job);
      }
    }
  }

  private async write(job: ArchiveJobRow): Promise<void> {
    const id = job.session_id;
    const now = this.now();
    if (!this.draining && now - job.created_at < (this.o.analysisGraceMs ?? 2000) && (await this.o.analysisPending?.(id))) {
      await this.o.store.postpone(id, now + 100);
      return;
    }
    let relative = "";
    try {
      const transcript = await this.o.read(id);
      if (!transcript) {
        await this.o.store.markWritten(id, "", now);
        this.o.logger.warn("archive.skipped", { session: id, reason: "the session no longer exists" });
        return;
      }
      const { session, pages, summary } = transcript;
      const { dir, file } = archiveRelativePath(session.ownerId, Date.parse(session.startedAt), id, this.o.format);
      relative = [...dir, file].join("/");
      const chunks = Symbol.asyncIterator in pages ? transcriptChunksLater(this.o.format, session, pages, summary) : transcriptChunks(this.o.format, session, pages, summary);
      await writeFileAtomic(join(this.o.root, ...dir), file, chunks);
      const marked = await this.o.store.markWritten(id, relative, this.now());
      if (marked === "taken") {
        // This node's lease lapsed and another node holds the job now: it writes the same file and records it.
        this.failing.delete(id);
        this.o.logger.info("archive.skipped", { session: id, reason: "another node took the job over" });
        return;
      }
      if (!marked) {
        // Erased while the file was being written (the erasure removed the files there were): this one goes too.
        rmSync(join(this.o.root, ...dir, file), { force: true });
        this.failing.delete(id);
        this.o.logger.info("archive.skipped", { session: id, reason: "the session was erased while its file was written" });
        return;
      }
      this.failing.delete(id);
      this.o.metrics.written.inc({ format: this.o.format });
      this.o.logger.info("archive.written", { session: id, path: relative, messages: session.metrics.messageCount, attempts: job.attempts + 1 });
    } catch (e) {
      const attempt = job.attempts + 1;
      const delay = Math.min(this.o.retryCapMs ?? 5000, (this.o.retryBaseMs ?? 500) * 2 ** Math.min(attempt - 1, 20));
      const code = errorCode(e);
      await this.o.store.markFailed(id, code, this.now() + delay);
      this.failing.add(id);
      this.o.metrics.failures.inc({ code });
      // Every failure for the first few, then about once a minute: a broken folder must not flood the log.
      if (attempt <= 3 || attempt % 12 === 0) {
        this.o.logger.error("archive.write_failed", {
          session: id,
          path: relative,
          code,
          attempt,
          retryInMs: delay,
          hint: "The transcript archive file could not be written; check that ARCHIVE_DIR exists and that sessiond may write to it. It is retried until it succeeds.",
        });
      }
    }
  }
}

/** A failure's code for logs and metric labels (SQLITE_BUSY, EACCES, ...): never its message. */
function errorCode(e: unknown): string {
  return String((e as { code?: unknown }).code ?? (e instanceof Error ? e.name : "error"));
}
