// Batches concurrent writes into shared transactions (group commit), and retries a batch the database refused for
// a moment (busy or locked) on a timer, never by waiting in place. Pure scheduling: the commit is injected.

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
  /**
   * Whether a thrown commit error is worth another attempt soon (a busy or locked database). Such a batch stays at
   * the head of the queue, everything queued after it waits behind it, and it is tried again on a timer.
   * @default never
   */
  isRetryable?: (thrown: unknown) => boolean;
  /** Longest an item waits through retries before it fails with the commit's error, in ms. @default 2000 */
  retryDeadlineMs?: number;
  /** Delay before the first retry, doubled after each failed one up to 50 ms. @default 2 */
  retryDelayMs?: number;
  /** The clock for retry deadlines. @default performance.now */
  now?: () => number;
}

export type Done<R, E> = (error: E | null, result: R | null) => void;

const MAX_RETRY_DELAY_MS = 50;

interface Entry<I, R, E> {
  item: I;
  done: Done<R, E>;
  /** When it was queued (`now()`), for the retry deadline. */
  at: number;
}

/**
 * `commit` receives the batch in arrival order and returns one outcome per item (a result or a per-item error);
 * if it throws, the whole batch failed and every item gets `toError(thrown)` — unless `isRetryable(thrown)`, in
 * which case the batch is retried until each item's deadline, then its expired items get `toError(thrown)`.
 * `done` callbacks run synchronously after `commit` returned, in arrival order, so a caller can publish in commit
 * order.
 */
export class GroupCommit<I, R, E> {
  private queue: Array<Entry<I, R, E>> = [];
  private timer: ReturnType<typeof setTimeout> | ReturnType<typeof setImmediate> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private retryDelay: number;
  private microtaskScheduled = false;
  private idleWaiters: Array<() => void> = [];
  private readonly maxBatch: number;
  private readonly maxDelayMs: number;
  private readonly onCallbackError: (error: unknown) => void;
  private readonly isRetryable: (thrown: unknown) => boolean;
  private readonly retryDeadlineMs: number;
  private readonly firstRetryDelayMs: number;
  private readonly now: () => number;

  constructor(
    private readonly commit: (items: I[]) => Array<{ ok: true; value: R } | { ok: false; error: E }>,
    private readonly toError: (thrown: unknown) => E,
    {
      maxBatch = 1024,
      maxDelayMs = 1,
      onCallbackError = console.error,
      isRetryable = () => false,
      retryDeadlineMs = 2000,
      retryDelayMs = 2,
      now = () => performance.now(),
    }: GroupCommitOptions = {},
  ) {
    this.onCallbackError = onCallbackError;
    this.maxBatch = maxBatch;
    this.maxDelayMs = maxDelayMs;
    this.isRetryable = isRetryable;
    this.retryDeadlineMs = retryDeadlineMs;
    this.firstRetryDelayMs = retryDelayMs;
    this.retryDelay = retryDelayMs;
    this.now = now;
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Whether a refused batch is waiting for its next attempt. */
  get retrying(): boolean {
    return this.retryTimer !== null;
  }

  enqueue(item: I, done: Done<R, E>): void {
    this.queue.push({ item, done, at: this.now() });
    // Behind a batch that waits for a retry: the retry timer commits this one too, in order.
    if (this.retryTimer !== null) return;
    if (this.queue.length >= this.maxBatch) {
      // Deferred to a microtask so `done` never runs inside the caller's own stack.
      if (!this.microtaskScheduled) {
        this.microtaskScheduled = true;
        queueMicrotask(() => {
          this.microtaskScheduled = false;
          if (this.retryTimer === null) this.flush();
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

  /**
   * Commits everything queued now, in batches of at most maxBatch. A batch refused with a retryable error stays
   * queued (with everything after it) and is retried on a timer; a flush while it waits makes one attempt now.
   */
  flush(): void {
    this.clearTimers();
    while (this.queue.length > 0) {
      const batch = this.queue.length <= this.maxBatch ? this.queue : this.queue.slice(0, this.maxBatch);
      let outcomes: ReturnType<typeof this.commit>;
      try {
        outcomes = this.commit(batch.map((b) => b.item));
      } catch (thrown) {
        if (this.isRetryable(thrown)) {
          this.expire(thrown);
          if (this.queue.length > 0) {
            this.scheduleRetry();
            return;
          }
          continue;
        }
        this.take(batch.length);
        const error = this.toError(thrown);
        for (const b of batch) this.settle(b.done, error, null);
        continue;
      }
      this.take(batch.length);
      this.retryDelay = this.firstRetryDelayMs;
      for (let i = 0; i < batch.length; i++) {
        const outcome = outcomes[i]!;
        if (outcome.ok) this.settle(batch[i]!.done, null, outcome.value);
        else this.settle(batch[i]!.done, outcome.error, null);
      }
    }
    this.notifyIdle();
  }

  /** Resolves once nothing is queued or waiting for a retry (at most the retry deadline after the last enqueue). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.retryTimer === null) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Removes the first `n` entries from the queue (the batch just committed or failed). */
  private take(n: number): void {
    this.queue = n >= this.queue.length ? [] : this.queue.slice(n);
  }

  /** Fails, in order, every queued item whose retry deadline has passed; they are the oldest, so at the head. */
  private expire(thrown: unknown): void {
    const cutoff = this.now() - this.retryDeadlineMs;
    let n = 0;
    while (n < this.queue.length && this.queue[n]!.at <= cutoff) n++;
    if (n === 0) return;
    const expired = this.queue.slice(0, n);
    this.take(n);
    const error = this.toError(thrown);
    for (const b of expired) this.settle(b.done, error, null);
  }

  private scheduleRetry(): void {
    const delay = this.retryDelay;
    this.retryDelay = Math.min(MAX_RETRY_DELAY_MS, this.retryDelay * 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.flush();
    }, delay);
  }

  private clearTimers(): void {
    if (this.timer !== null) {
      if (this.maxDelayMs === 0) clearImmediate(this.timer as ReturnType<typeof setImmediate>);
      else clearTimeout(this.timer as ReturnType<typeof setTimeout>);
      this.timer = null;
    }
    if (this.retryTimer !== null) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
  }

  private notifyIdle(): void {
    if (this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
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
