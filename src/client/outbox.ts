// Sends not yet acknowledged, one FIFO queue per session and a bound on the total (pure).
// Only the head of a session's queue is ever on the wire, so messages commit in the order the app sent them
// even when one is refused (rate limit) and retried.

export class Outbox<T extends { session: string }> {
  readonly #queues = new Map<string, T[]>();
  #size = 0;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.#size;
  }

  /** Appends; false when the outbox is full. */
  add(entry: T): boolean {
    if (this.#size >= this.capacity) return false;
    const queue = this.#queues.get(entry.session);
    if (queue) queue.push(entry);
    else this.#queues.set(entry.session, [entry]);
    this.#size++;
    return true;
  }

  head(session: string): T | undefined {
    return this.#queues.get(session)?.[0];
  }

  remove(entry: T): boolean {
    const queue = this.#queues.get(entry.session);
    const i = queue ? queue.indexOf(entry) : -1;
    if (i === -1) return false;
    queue!.splice(i, 1);
    if (queue!.length === 0) this.#queues.delete(entry.session);
    this.#size--;
    return true;
  }

  sessions(): string[] {
    return [...this.#queues.keys()];
  }

  /** Every entry, oldest first within each session. */
  entries(): T[] {
    return [...this.#queues.values()].flat();
  }
}
