import type { Logger } from '../logger.js';
import type { SegmentRecord } from '../metadata/model.js';
import { batchLastOffset, readInt64, splitBatches } from '../protocol/records/record-batch.js';
import type { ObjectStore } from '../storage/object-store.js';
import { isPacked } from '../storage/packed-object.js';
import { encodeSegment, segmentBatchRegion } from '../storage/segment.js';
import { newWriterId, segmentKeys } from '../storage/segment-keys.js';
import type { PartitionLog } from './partition-log.js';

export interface CompactionOptions {
  namespace: string;
  /** A run of packed segments is rewritten once it holds this many bytes of batches... */
  minBytes: number;
  /** ...or once its oldest segment is this old. */
  maxAgeMs: number;
  indexIntervalBytes: number;
}

/**
 * The most packed segments one compaction rewrites. The commit deletes the run's entries with one
 * range delete, so etcd's limit of operations per transaction does not bound it; this bounds the
 * manifest entries (etcd keys) a partition carries between compactions and the reads one
 * compaction makes. A partition flushing once per flush interval (100/s) reaches it in 10 s; one
 * receiving a record a second only after 1,000 s, so its segments are compacted by age first.
 */
export const MAX_RUN_SEGMENTS = 1000;

/**
 * The first run of contiguous packed segments that is due for rewriting, or none. Per-partition
 * segments are never rewritten, so every byte is copied at most once.
 */
export function pickRun(
  manifest: readonly SegmentRecord[],
  options: Pick<CompactionOptions, 'minBytes' | 'maxAgeMs'>,
  now: number,
): SegmentRecord[] | undefined {
  let start = -1;
  let bytes = 0;
  let oldest = Infinity;
  const due = () => start >= 0 && oldest <= now - options.maxAgeMs;
  for (let i = 0; i < manifest.length; i++) {
    const segment = manifest[i];
    const continues = start >= 0 && segment.baseOffset === manifest[i - 1].lastOffset + 1;
    if (!isPacked(segment) || (start >= 0 && !continues)) {
      if (due()) return manifest.slice(start, i);
      start = -1;
      bytes = 0;
      oldest = Infinity;
      if (!isPacked(segment)) continue;
    }
    if (start < 0) start = i;
    bytes += segment.dataEnd - segment.dataStart;
    oldest = Math.min(oldest, segment.createdAt);
    if (bytes >= options.minBytes || i + 1 - start >= MAX_RUN_SEGMENTS) {
      return manifest.slice(start, i + 1);
    }
  }
  return due() ? manifest.slice(start) : undefined;
}

/**
 * Rewrites a partition's packed segments (transient, shared with other partitions) into one
 * per-partition segment in the documented layout, which external readers expect. Only committed
 * segments are rewritten, byte for byte, and the swap is one fenced commit, so appends go on
 * meanwhile and no record is lost or duplicated. The packed objects are left to the orphan
 * sweeper: other partitions may still reference them, and reads may still be under way.
 */
export class SegmentCompactor {
  constructor(
    private readonly objects: ObjectStore,
    private readonly logger: Logger,
    private readonly options: CompactionOptions,
  ) {}

  /** Compacts the partition's first due run, if any; resolves true when one was swapped in. */
  async compact(log: PartitionLog, now = Date.now()): Promise<boolean> {
    const run = pickRun(log.manifest, this.options, now);
    if (!run) return false;
    const baseOffset = run[0].baseOffset;
    const lastOffset = run[run.length - 1].lastOffset;
    const batches = (await Promise.all(run.map((s) => batchesOf(log, s)))).flat();
    const first = readInt64(batches[0], 0);
    const last = batchLastOffset(batches[batches.length - 1]);
    if (first !== baseOffset || last !== lastOffset) {
      throw new Error(
        `${log.topic}-${log.partition}: segments hold ${first}..${last}, ` +
          `the manifest says ${baseOffset}..${lastOffset}`,
      );
    }
    const encoded = encodeSegment({
      baseOffset,
      batches,
      indexIntervalBytes: this.options.indexIntervalBytes,
    });
    const keys = segmentKeys({
      namespace: this.options.namespace,
      topic: log.topic,
      partition: log.partition,
      baseOffset,
      writerId: newWriterId(log.leaderEpoch),
    });
    await Promise.all([
      this.objects.put(keys.segment, encoded.segment),
      this.objects.put(keys.index, encoded.index),
    ]);
    const region = segmentBatchRegion(encoded.segment.length);
    const replacement: SegmentRecord = {
      key: keys.segment,
      indexKey: keys.index,
      baseOffset,
      lastOffset,
      dataStart: region.start,
      dataEnd: region.end,
      maxTimestamp: Math.max(...run.map((s) => s.maxTimestamp)),
      createdAt: now,
    };
    const swapped = await log.replaceSegments(
      run,
      replacement,
      encoded.segment.subarray(region.start, region.end),
    );
    // A run that changed meanwhile leaves the new objects unreferenced: the sweeper's garbage.
    if (swapped) {
      this.logger.debug('segments compacted', {
        topic: log.topic,
        partition: log.partition,
        baseOffset,
        lastOffset,
        segments: run.length,
        key: keys.segment,
      });
    }
    return swapped;
  }
}

/**
 * The segment's batches, each checked (framing and CRC-32C) before it is copied into a segment
 * that outlives the packed object. The region comes through the partition's reads: from the
 * cache, or from the store shared with any fetch reading it at the same time, so compaction
 * after a restart does not GET again what catching-up consumers are reading.
 */
async function batchesOf(log: PartitionLog, segment: SegmentRecord): Promise<Buffer[]> {
  return splitBatches(await log.readRegion(segment)).map((b) => b.bytes);
}
