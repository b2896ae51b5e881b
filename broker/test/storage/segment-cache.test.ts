// The segment cache holds what it counts: a view of a much larger buffer is kept as a copy.
import { SegmentCache } from '../../src/storage/segment-cache.js';

test('a view of a much larger buffer is copied; a segment region is kept as it is', () => {
  const cache = new SegmentCache(64 * 1024 * 1024);
  const read = Buffer.alloc(4 * 1024 * 1024, 7); // one GET read for several partitions
  const piece = read.subarray(1024 * 1024, 1024 * 1024 + 100_000);
  cache.set('piece', piece);
  const kept = cache.get('piece')!;
  expect(kept.equals(piece)).toBe(true);
  expect(kept.buffer.byteLength).toBe(100_000);
  expect(cache.bytes).toBe(100_000);

  const segment = Buffer.alloc(300_000, 1);
  const region = segment.subarray(32, segment.length - 16); // a segment minus header and footer
  cache.set('region', region);
  expect(cache.get('region')!.buffer).toBe(segment.buffer);
});

test('an entry larger than the cache is not kept', () => {
  const cache = new SegmentCache(1000);
  cache.set('big', Buffer.alloc(1001));
  expect(cache.has('big')).toBe(false);
  cache.set('small', Buffer.alloc(1000));
  expect(cache.bytes).toBe(1000);
});
