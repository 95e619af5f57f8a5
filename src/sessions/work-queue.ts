// A bounded FIFO of work items with a fixed number of async workers (pure scheduling; the handler is injected).
// Full means refused and counted, never silently lost: the caller keeps a storage cursor to find the item again.

export interface WorkQueueOptions<T> {
  /** Items that may wait; a push beyond it is refused. */
  capacity: number;
  /** Items handled at once. @default 1 */
  concurrency?: number;
  /** Told of each refused item (for a metric). */
  onDrop?: (item: T) => void;
  /** Told when the handler throws or rejects; the queue goes on with the next item. @default console.error */
  onError?: (error: unknown, item: T) => void;
  /** @default Date.now */
  now?: () => number;
}

export class WorkQueue<T> {
  private items: Array<{ item: T; at: number }> = [];
  private head = 0;
  private running = 0;
  private stopped = false;
  private droppedCount = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly capacity: number;
  private readonly concurrency: number;
  private readonly now: () => number;

  constructor(
    private readonly handler: (item: T) => void | Promise<void>,
    private readonly options: WorkQueueOptions<T>,
  ) {
    this.capacity = options.capacity;
    this.concurrency = options.concurrency ?? 1;
    this.now = options.now ?? Date.now;
  }

  /** Items waiting (not yet handed to a worker). */
  get depth(): number {
    return this.items.length - this.head;
  }

  get inFlight(): number {
    return this.running;
  }

  /** Items refused because the queue was full, since it was created. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** How long the oldest waiting item has waited, in ms (0 when none waits): a stuck queue grows this. */
  oldestWaitMs(): number {
    return this.depth === 0 ? 0 : this.now() - this.items[this.head]!.at;
  }

  /** Queues an item; false (and counted) when the queue is full or stopped. */
  push(item: T): boolean {
    if (this.stopped || this.depth >= this.capacity) {
      this.droppedCount++;
      this.options.onDrop?.(item);
      return false;
    }
    this.items.push({ item, at: this.now() });
    this.pump();
    return true;
  }

  /** Resolves once nothing waits and nothing is in flight. */
  idle(): Promise<void> {
    if (this.depth === 0 && this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Refuses new items and forgets the waiting ones (their storage cursor brings them back); returns how many. */
  stop(): number {
    this.stopped = true;
    const forgotten = this.depth;
    this.items = [];
    this.head = 0;
    this.settleIdle();
    return forgotten;
  }

  private pump(): void {
    while (this.running < this.concurrency && this.depth > 0) {
      const { item } = this.items[this.head]!;
      this.items[this.head] = undefined as never;
      this.head++;
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      this.running++;
      void this.run(item);
    }
  }

  private async run(item: T): Promise<void> {
    try {
      await this.handler(item);
    } catch (e) {
      (this.options.onError ?? console.error)(e, item);
    } finally {
      this.running--;
      if (!this.stopped) this.pump();
      this.settleIdle();
    }
  }

  private settleIdle(): void {
    if (this.depth > 0 || this.running > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
