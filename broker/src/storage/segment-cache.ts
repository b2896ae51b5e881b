import { LRUCache } from 'lru-cache';

/** Bytes an entry may keep alive beyond its own (a segment's header and footer, say). */
const MAX_HIDDEN_BYTES = 64 * 1024;

/**
 * Byte-bounded LRU of segment batch regions (and indexes), keyed by object key. The leader puts
 * what it just wrote, so tail reads are memory reads; readers put what they fetched.
 */
export class SegmentCache {
  private readonly lru: LRUCache<string, Buffer>;
  hits = 0;
  misses = 0;

  constructor(maxBytes: number) {
    this.lru = new LRUCache<string, Buffer>({
      maxSize: Math.max(1, maxBytes),
      sizeCalculation: (b) => Math.max(1, b.length),
    });
  }

  get(key: string): Buffer | undefined {
    const value = this.lru.get(key);
    if (value) this.hits++;
    else this.misses++;
    return value;
  }

  has(key: string): boolean {
    return this.lru.has(key);
  }

  set(key: string, value: Buffer): void {
    // An entry bigger than the whole cache would evict everything and then be dropped itself.
    if (value.length > this.lru.maxSize) return;
    // A view of a much larger buffer (one GET read for several partitions) is copied: the cache
    // holds what it counts, not the other bytes behind the view.
    const hidden = value.buffer.byteLength - value.length;
    this.lru.set(key, hidden > MAX_HIDDEN_BYTES ? Buffer.from(value) : value);
  }

  delete(key: string): void {
    this.lru.delete(key);
  }

  get bytes(): number {
    return this.lru.calculatedSize;
  }
}
