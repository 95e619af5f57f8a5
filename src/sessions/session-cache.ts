// A bounded least-recently-used map (pure). Map keeps insertion order, so re-inserting on access makes the
// first key the least recently used one and eviction O(1).

export class SessionCache<K, V> {
  private readonly entries = new Map<K, V>();
  hits = 0;
  misses = 0;
  evictions = 0;

  /**
   * @param maxEntries how many entries to hold before evicting the least recently used one
   * @param onEvict told of each entry evicted for room (not of explicit deletes)
   */
  constructor(
    readonly maxEntries: number,
    private readonly onEvict: (key: K, value: V) => void = () => {},
  ) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError("maxEntries must be a positive integer");
  }

  get size(): number {
    return this.entries.size;
  }

  /** Returns the entry and marks it most recently used; counts a hit or a miss. */
  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  /** Returns the entry without touching its recency or the counters. */
  peek(key: K): V | undefined {
    return this.entries.get(key);
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as K;
      const evicted = this.entries.get(oldest)!;
      this.entries.delete(oldest);
      this.evictions++;
      this.onEvict(oldest, evicted);
    }
  }

  delete(key: K): boolean {
    return this.entries.delete(key);
  }

  values(): IterableIterator<V> {
    return this.entries.values();
  }
}
