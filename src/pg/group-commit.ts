// Group commit over an asynchronous database: items queued while a transaction is in flight share the next one.
// One transaction at a time per store (per node), callbacks in enqueue order right after each commit. A batch the
// database refused before its COMMIT was sent (the server restarting, a stale pooled connection) is retried on a
// timer until its deadline; nothing else is retried. Pure scheduling: the commit is injected.

export interface PgGroupCommitOptions {
  /** Most items in one transaction. @default 2000 */
  maxBatch?: number;
  /**
   * Wait this long after the first item before committing when nothing is in flight. @default 0 (the next turn:
   * everything that arrived in one event-loop turn). While a commit is in flight, new items wait for it anyway.
   */
  maxDelayMs?: number;
  /** Longest a batch is retried after refusals that are safe to retry, in ms. @default 1500 */
  retryDeadlineMs?: number;
  /** Told when a `done` callback throws (the rest of the batch still hears back). @default console.error */
  onCallbackError?: (error: unknown) => void;
}

export type PgOutcome<R, E> = { ok: true; value: R } | { ok: false; error: E };

/** What a failed commit reports: whether it may be retried (the transaction certainly did not commit). */
export class BatchFailure extends Error {
  constructor(
    readonly retryable: boolean,
    readonly thrown: unknown,
  ) {
    super("batch failed", { cause: thrown });
  }
}

interface Entry<I, R, E> {
  item: I;
  done: (error: E | null, result: R | null) => void;
  at: number;
}

const MAX_RETRY_DELAY_MS = 50;

export class PgGroupCommit<I, R, E> {
  private queue: Array<Entry<I, R, E>> = [];
  private committing = false;
  private timer: ReturnType<typeof setTimeout> | ReturnType<typeof setImmediate> | null = null;
  private idleWaiters: Array<() => void> = [];
  private readonly maxBatch: number;
  private readonly maxDelayMs: number;
  private readonly retryDeadlineMs: number;
  private readonly onCallbackError: (error: unknown) => void;

  constructor(
    /** Commits the batch in one transaction; throws BatchFailure (or anything, treated as not retryable). */
    private readonly commit: (items: I[]) => Promise<Array<PgOutcome<R, E>>>,
    private readonly toError: (failure: BatchFailure) => E,
    { maxBatch = 2000, maxDelayMs = 0, retryDeadlineMs = 1500, onCallbackError = console.error }: PgGroupCommitOptions = {},
  ) {
    this.maxBatch = maxBatch;
    this.maxDelayMs = maxDelayMs;
    this.retryDeadlineMs = retryDeadlineMs;
    this.onCallbackError = onCallbackError;
  }

  get pending(): number {
    return this.queue.length;
  }

  enqueue(item: I, done: (error: E | null, result: R | null) => void): void {
    this.queue.push({ item, done, at: performance.now() });
    if (this.committing || this.timer !== null) return;
    const fire = () => {
      this.timer = null;
      void this.drain();
    };
    this.timer = this.maxDelayMs === 0 ? setImmediate(fire) : setTimeout(fire, this.maxDelayMs);
  }

  /** Commits everything queued now; resolves after their callbacks ran. */
  flush(): Promise<void> {
    if (this.timer !== null) {
      if (this.maxDelayMs === 0) clearImmediate(this.timer as ReturnType<typeof setImmediate>);
      else clearTimeout(this.timer as ReturnType<typeof setTimeout>);
      this.timer = null;
    }
    if (!this.committing) void this.drain();
    return this.idle();
  }

  /** Resolves once nothing is queued or in flight. */
  idle(): Promise<void> {
    if (this.queue.length === 0 && !this.committing) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async drain(): Promise<void> {
    if (this.committing) return;
    this.committing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.slice(0, this.maxBatch);
        const outcomes = await this.commitWithRetry(batch);
        this.queue = this.queue.slice(batch.length);
        if (outcomes instanceof BatchFailure) {
          const error = this.toError(outcomes);
          for (const b of batch) this.settle(b, error, null);
        } else {
          for (let i = 0; i < batch.length; i++) {
            const o = outcomes[i]!;
            if (o.ok) this.settle(batch[i]!, null, o.value);
            else this.settle(batch[i]!, o.error, null);
          }
        }
      }
    } finally {
      this.committing = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private async commitWithRetry(batch: Array<Entry<I, R, E>>): Promise<Array<PgOutcome<R, E>> | BatchFailure> {
    let delay = 2;
    const items = batch.map((b) => b.item);
    for (;;) {
      try {
        return await this.commit(items);
      } catch (thrown) {
        const failure = thrown instanceof BatchFailure ? thrown : new BatchFailure(false, thrown);
        if (!failure.retryable || performance.now() - batch[0]!.at + delay > this.retryDeadlineMs) return failure;
        await Bun.sleep(delay);
        delay = Math.min(MAX_RETRY_DELAY_MS, delay * 2);
      }
    }
  }

  private settle(entry: Entry<I, R, E>, error: E | null, result: R | null): void {
    try {
      entry.done(error, result);
    } catch (e) {
      this.onCallbackError(e);
    }
  }
}
