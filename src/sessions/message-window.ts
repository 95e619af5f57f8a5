// The rolling window of a session's most recent messages (pure). A ring buffer: appending past capacity
// overwrites the oldest slot in O(1), where Array.shift on a 1000-element array would move every element.

export class MessageWindow<T extends { seq: number }> {
  // Grows to capacity as messages arrive: a quiet session does not pay for 1000 empty slots.
  private readonly slots: Array<T | undefined> = [];
  private start = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError("capacity must be a positive integer");
  }

  /** Builds a window from messages in ascending seq order (keeps the last `capacity`). */
  static from<T extends { seq: number }>(capacity: number, items: readonly T[]): MessageWindow<T> {
    const window = new MessageWindow<T>(capacity);
    for (const item of items.slice(-capacity)) window.push(item);
    return window;
  }

  get size(): number {
    return this.count;
  }

  /** Seq of the oldest message held, or null when empty. */
  get firstSeq(): number | null {
    return this.count === 0 ? null : this.slots[this.start]!.seq;
  }

  /** Seq of the newest message held, or null when empty. */
  get lastSeq(): number | null {
    return this.count === 0 ? null : this.at(this.count - 1).seq;
  }

  push(item: T): void {
    if (this.count < this.capacity) {
      this.slots[(this.start + this.count) % this.capacity] = item;
      this.count++;
    } else {
      this.slots[this.start] = item;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  /** The newest `n` messages, oldest first. */
  last(n: number): T[] {
    const take = Math.max(0, Math.min(n, this.count));
    const out = new Array<T>(take);
    for (let i = 0; i < take; i++) out[i] = this.at(this.count - take + i);
    return out;
  }

  /**
   * Messages with seq > `since`, oldest first, at most `limit`; null when the window cannot prove it holds all
   * of them (the oldest wanted message was already dropped), so the caller reads storage instead.
   */
  after(since: number, limit = Infinity): T[] | null {
    if (this.count === 0) return null;
    const first = this.firstSeq!;
    if (since + 1 < first) return null;
    const out: T[] = [];
    // Seqs in the window are contiguous, so the first wanted message sits at a computable offset.
    for (let i = Math.max(0, since + 1 - first); i < this.count && out.length < limit; i++) out.push(this.at(i));
    return out;
  }

  private at(i: number): T {
    return this.slots[(this.start + i) % this.capacity]!;
  }
}
