// A min-heap of items by deadline, each item knowing its own slot, so one timer serves every connection's token
// expiry (instead of a timer per connection) and a closed connection leaves in O(log n). Pure.

export interface DeadlineSlots<T> {
  /** The item's deadline (ms). */
  at(item: T): number;
  /** The item's index in the heap, -1 when it is not in it. */
  slot(item: T): number;
  setSlot(item: T, slot: number): void;
}

export class DeadlineHeap<T> {
  private readonly items: T[] = [];

  constructor(private readonly slots: DeadlineSlots<T>) {}

  get size(): number {
    return this.items.length;
  }

  /** The earliest item, or undefined when empty. */
  peek(): T | undefined {
    return this.items[0];
  }

  /** Adds the item, or moves it to where its (changed) deadline now puts it. */
  set(item: T): void {
    const i = this.slots.slot(item);
    if (i < 0) {
      this.items.push(item);
      this.slots.setSlot(item, this.items.length - 1);
      this.up(this.items.length - 1);
    } else {
      this.down(this.up(i));
    }
  }

  /** Removes the item if it is in the heap. */
  delete(item: T): void {
    const i = this.slots.slot(item);
    if (i < 0) return;
    this.slots.setSlot(item, -1);
    const last = this.items.pop()!;
    if (i === this.items.length) return;
    this.items[i] = last;
    this.slots.setSlot(last, i);
    this.down(this.up(i));
  }

  /** Removes and returns the earliest item if its deadline is at or before `now`. */
  popDue(now: number): T | undefined {
    const first = this.items[0];
    if (first === undefined || this.slots.at(first) > now) return undefined;
    this.delete(first);
    return first;
  }

  private up(i: number): number {
    const item = this.items[i]!;
    const at = this.slots.at(item);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = this.items[p]!;
      if (this.slots.at(parent) <= at) break;
      this.items[i] = parent;
      this.slots.setSlot(parent, i);
      i = p;
    }
    this.items[i] = item;
    this.slots.setSlot(item, i);
    return i;
  }

  private down(i: number): void {
    const n = this.items.length;
    const item = this.items[i]!;
    const at = this.slots.at(item);
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.slots.at(this.items[r]!) < this.slots.at(this.items[l]!) ? r : l;
      if (this.slots.at(this.items[c]!) >= at) break;
      this.items[i] = this.items[c]!;
      this.slots.setSlot(this.items[i]!, i);
      i = c;
    }
    this.items[i] = item;
    this.slots.setSlot(item, i);
  }
}
