// A set that holds its first member inline and makes a real Set only for a second one (pure). Most connections
// join one session and most sessions have one subscriber: a JS Set with its hash table costs a few hundred bytes,
// this costs two fields.

/** What readers of a SmallSet (or a Set) rely on. */
export interface Members<T> extends Iterable<T> {
  readonly size: number;
  has(value: T): boolean;
}

export class SmallSet<T> implements Members<T> {
  private one: T | undefined = undefined;
  private many: Set<T> | null = null;

  get size(): number {
    return this.many !== null ? this.many.size : this.one === undefined ? 0 : 1;
  }

  has(value: T): boolean {
    return this.many !== null ? this.many.has(value) : this.one === value && value !== undefined;
  }

  add(value: T): this {
    if (this.many !== null) this.many.add(value);
    else if (this.one === undefined) this.one = value;
    else if (this.one !== value) {
      this.many = new Set([this.one, value]);
      this.one = undefined;
    }
    return this;
  }

  /** True when the value was a member. */
  delete(value: T): boolean {
    if (this.many !== null) {
      const had = this.many.delete(value);
      // Back to inline once one member is left, so a set that shrinks gives its table back.
      if (this.many.size === 1) {
        this.one = this.many.values().next().value as T;
        this.many = null;
      } else if (this.many.size === 0) this.many = null;
      return had;
    }
    if (this.one === undefined || this.one !== value) return false;
    this.one = undefined;
    return true;
  }

  *[Symbol.iterator](): Iterator<T> {
    if (this.many !== null) yield* this.many;
    else if (this.one !== undefined) yield this.one;
  }
}
