// A small least-recently-used cache of queue pages, keyed by query + offset. Entries remember the
// generation they were fetched in, so an invalidation can keep showing old rows while fresh ones load.

export interface CacheEntry<T> {
  value: T;
  generation: number;
}

export class PageCache<T> {
  private map = new Map<string, CacheEntry<T>>();

  constructor(private readonly capacity: number) {}

  static key(queryKey: string, offset: number): string {
    return `${queryKey}@${offset}`;
  }

  get size(): number {
    return this.map.size;
  }

  /** Reads an entry and marks it as recently used. */
  get(key: string): CacheEntry<T> | undefined {
    const e = this.map.get(key);
    if (e) {
      this.map.delete(key);
      this.map.set(key, e);
    }
    return e;
  }

  /** Reads an entry without touching its recency. */
  peek(key: string): CacheEntry<T> | undefined {
    return this.map.get(key);
  }

  set(key: string, value: T, generation: number): void {
    this.map.delete(key);
    this.map.set(key, { value, generation });
    while (this.map.size > this.capacity) {
      const oldest = this.map.keys().next().value;
      if (oldest === undefined) break;
      this.map.delete(oldest);
    }
  }

  clear(): void {
    this.map.clear();
  }

  keys(): string[] {
    return [...this.map.keys()];
  }
}
