// Batches concurrent writes into shared transactions (group commit). Pure scheduling: the commit is injected.

export interface GroupCommitOptions {
  /** Flush as soon as this many items wait. @default 1024 */
  maxBatch?: number;
  /**
   * Flush at most this long after the first item of a batch arrived. @default 1
   * One fsync-free WAL commit costs tens of microseconds; waiting about a millisecond lets every append that
   * arrived from other sockets in that time share it, without holding any caller longer than that plus one commit.
   * 0 flushes right after the current I/O phase (setImmediate): everything that arrived in one event-loop turn.
   */
  maxDelayMs?: number;
  /** Told when a `done` callback throws (the rest of its batch still hears back). @default console.error */
  onCallbackError?: (error: unknown) => void;
}

export type Done<R, E> = (error: E | null, result: R | null) => void;

/**
 * `commit` receives the batch in arrival order and returns one outcome per item (a result or a per-item error);
 * if it throws, the whole batch failed and every item gets `toError(thrown)`. `done` callbacks run synchronously
 * after `commit` returned, in arrival order, so a caller can publish in commit order.
 */
export class GroupCommit<I, R, E> {
  private queue: Array<{ item: I; done: Done<R, E> }> = [];
  private timer: ReturnType<typeof setTimeout> | ReturnType<typeof setImmediate> | null = null;
  private microtaskScheduled = false;
  private readonly maxBatch: number;
  private readonly maxDelayMs: number;
  private readonly onCallbackError: (error: unknown) => void;

  constructor(
    private readonly commit: (items: I[]) => Array<{ ok: true; value: R } | { ok: false; error: E }>,
    private readonly toError: (thrown: unknown) => E,
    { maxBatch = 1024, maxDelayMs = 1, onCallbackError = console.error }: GroupCommitOptions = {},
  ) {
    this.onCallbackError = onCallbackError;
    this.maxBatch = maxBatch;
    this.maxDelayMs = maxDelayMs;
  }

  get pending(): number {
    return this.queue.length;
  }

  enqueue(item: I, done: Done<R, E>): void {
    this.queue.push({ item, done });
    if (this.queue.length >= this.maxBatch) {
      // Deferred to a microtask so `done` never runs inside the caller's own stack.
      if (!this.microtaskScheduled) {
        this.microtaskScheduled = true;
        queueMicrotask(() => {
          this.microtaskScheduled = false;
          this.flush();
        });
      }
    } else if (this.timer === null) {
      const fire = () => {
        this.timer = null;
        this.flush();
      };
      this.timer = this.maxDelayMs === 0 ? setImmediate(fire) : setTimeout(fire, this.maxDelayMs);
    }
  }

  /** Commits everything queued now, in batches of at most maxBatch. */
  flush(): void {
    if (this.timer !== null) {
      if (this.maxDelayMs === 0) clearImmediate(this.timer as ReturnType<typeof setImmediate>);
      else clearTimeout(this.timer as ReturnType<typeof setTimeout>);
      this.timer = null;
    }
    while (this.queue.length > 0) {
      const batch = this.queue.length <= this.maxBatch ? this.queue : this.queue.slice(0, this.maxBatch);
      this.queue = batch === this.queue ? [] : this.queue.slice(this.maxBatch);
      let outcomes: ReturnType<typeof this.commit>;
      try {
        outcomes = this.commit(batch.map((b) => b.item));
      } catch (thrown) {
        const error = this.toError(thrown);
        for (const b of batch) this.settle(b.done, error, null);
        continue;
      }
      for (let i = 0; i < batch.length; i++) {
        const outcome = outcomes[i]!;
        if (outcome.ok) this.settle(batch[i]!.done, null, outcome.value);
        else this.settle(batch[i]!.done, outcome.error, null);
      }
    }
  }

  private settle(done: Done<R, E>, error: E | null, result: R | null): void {
    try {
      done(error, result);
    } catch (e) {
      // A faulty callback must not stop the others of its batch from hearing that their write committed.
      this.onCallbackError(e);
    }
  }
}
