import { randomBytes } from 'node:crypto';
import type {
  ClusterMetadata,
  PartitionCommit,
  SegmentRemoval,
} from '../metadata/cluster-metadata.js';
import { MetadataUnavailableError } from '../metadata/metadata-store.js';
import type { PartitionStateRecord, SegmentRecord } from '../metadata/model.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { SegmentCache } from '../storage/segment-cache.js';
import { encodeSegment, segmentBatchRegion } from '../storage/segment.js';
import { decodeIndex, lookupPosition } from '../storage/segment-index.js';
import { newWriterId, segmentKeys } from '../storage/segment-keys.js';
import {
  dataCacheKey,
  exclusiveObjectKeys,
  indexCacheKey,
  indexRange,
  packedSegmentFields,
  segmentOrigin,
} from '../storage/packed-object.js';
import {
  LOG_OVERHEAD,
  patchBaseOffset,
  patchPartitionLeaderEpoch,
  readInt64,
  type RecordBatch,
} from '../protocol/records/record-batch.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { decodeRecordsIfReadable } from '../protocol/records/record-batch-decoder.js';
import { batchMaxTimestamp } from './batch-timestamp.js';
import type { Logger } from '../logger.js';
import { ProducerStateTable } from './producer-state.js';
import { KafkaError } from './kafka-error.js';
import type { ProduceBuffer } from './produce-buffer.js';
import type { SegmentPacker } from './segment-packer.js';
import type { CommitBatcher } from './commit-batcher.js';

export interface LogConfig {
  /** Object key prefix of this cluster's segments. */
  namespace: string;
  /** Flush as soon as this many bytes are waiting. */
  segmentBytes: number;
  /** Flush this long after the first unflushed byte arrived. */
  flushIntervalMs: number;
  indexIntervalBytes: number;
  /** Segments fetched ahead of a sequential reader. */
  readAheadSegments: number;
  /** Segments larger than this are read by index-guided range reads instead of whole. */
  rangeReadThresholdBytes: number;
  /** Partitions flushed together share one object (one PUT); compaction rewrites them later. */
  packSegments: boolean;
  /** A partition's packed segments are compacted once they hold this many bytes... */
  compactBytes: number;
  /** ...or once the oldest of them is this old. */
  compactMaxAgeMs: number;
}

/** What a partition log works with; the log manager supplies it to every partition. */
export interface PartitionLogDeps {
  metadata: ClusterMetadata;
  objects: ObjectStore;
  cache: SegmentCache;
  config: LogConfig;
  logger: Logger;
  /** Bytes appended and not yet committed, across partitions; appends beyond it fail. */
  buffer?: ProduceBuffer;
  /** Called with the size of every committed segment. */
  onFlush?: (segmentBytes: number) => void;
  /** Uploads segments packed with other partitions'; absent: one object pair per flush. */
  packer?: SegmentPacker;
  /** Commits of several partitions in one metadata transaction; absent: one per commit. */
  committer?: CommitBatcher;
}

interface PendingBatch {
  bytes: Buffer;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
}

interface Deferred {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** What arrived during one flush window, flushed as one segment. */
interface Window {
  batches: PendingBatch[];
  bytes: number;
  waiters: Deferred[];
  timer?: NodeJS.Timeout;
  /** The window's time or size bound was reached: it goes as soon as a flush slot is free. */
  due?: boolean;
  /** The log's failure count when the window opened: a later failure voids its offsets. */
  generation: number;
  /** Its bytes went back to the produce buffer (before its producers were answered). */
  released?: boolean;
}

/**
 * Windows of one partition uploading at the same time. Uploads overlap (a window does not wait
 * for the previous one's PUT and commit), commits still go one after another in offset order.
 */
export const MAX_FLUSHES_IN_FLIGHT = 4;

export interface AppendResult {
  baseOffset: number;
  /** Resolves once the batch is durable (uploaded and committed); rejects with KafkaError. */
  durable: Promise<void>;
}

export interface ReadResult {
  /** Complete batches starting at or before the fetch offset, at least one when any exists. */
  batches: Buffer[];
  bytes: number;
  highWatermark: number;
  logStartOffset: number;
}

const TAIL_WALK_LIMIT = 64 * 1024 * 1024;

/**
 * A sequential reader's read-ahead covers at least `readAheadSegments` segments and at least this
 * many bytes of batches: small packed segments (one flush window of one partition) would
 * otherwise keep one small GET in flight at a time.
 */
export const READ_AHEAD_BYTES = 4 * 1024 * 1024;
/** Segments one read-ahead starts at most. */
const READ_AHEAD_MAX_SEGMENTS = 64;
/** Read-ahead bytes in flight across the process; beyond it read-ahead waits for the next read. */
export const READ_AHEAD_BYTES_IN_FLIGHT = 64 * 1024 * 1024;
let readAheadInFlight = 0;

/**
 * Commits through the broker's committer when there is one (commits of the same turn share a
 * transaction), else on its own; resolves undefined when the fencing compare failed.
 */
function commitPartition(deps: PartitionLogDeps, c: PartitionCommit): Promise<number | undefined> {
  return deps.committer
    ? deps.committer.commit(c)
    : deps.metadata.commitPartition(
        c.topic,
        c.partition,
        c.expectedRevision,
        c.state,
        c.addSegments,
        c.removeSegments,
      );
}

/**
 * The leader's view of one partition: assigns offsets in memory, groups what arrives in a flush
 * window into one segment, uploads it, commits the manifest and high watermark in one metadata
 * transaction that compares the revision it last wrote (fencing), and only then acknowledges.
 * Reads serve committed data from the cache or the object store.
 */
export class PartitionLog {
  private nextOffset: number;
  private window: Window = { batches: [], bytes: 0, waiters: [], generation: 0 };
  /** Windows taken for flushing and not yet settled (uploading, or waiting for their commit). */
  private inFlight = 0;
  /** Set when the log is handing off: no more appends, queued data still flushes. */
  private closing = false;
  private closed = false;
  private commitWaiters: (() => void)[] = [];
  /** Counts failed flushes, so waiters on in-flight duplicates learn their batch failed. */
  private failures = 0;
  private readonly producers: ProducerStateTable;
  /** Commits one after another: each compares the revision the previous one produced. */
  private commitQueue: Promise<unknown> = Promise.resolve();
  /** GETs of segment regions under way, so a read and a read-ahead share one request. */
  private readonly regionReads = new Map<string, Promise<Buffer>>();

  private constructor(
    readonly topic: string,
    readonly partition: number,
    private state: PartitionStateRecord,
    private revision: number,
    private segments: SegmentRecord[],
    private readonly deps: PartitionLogDeps,
  ) {
    this.nextOffset = state.highWatermark;
    this.producers = new ProducerStateTable(state.producers);
  }

  /**
   * Loads the partition and takes leadership: the leader epoch is bumped in the metadata store,
   * which fences any earlier writer of the partition.
   */
  static async open(
    topic: string,
    partition: number,
    deps: PartitionLogDeps,
  ): Promise<PartitionLog> {
    try {
      return await PartitionLog.takeLeadership(topic, partition, deps);
    } catch (err) {
      // Retriable for clients: a produce or fetch while the store is unreachable must not get
      // UNKNOWN_SERVER_ERROR, which Kafka clients treat as fatal.
      if (err instanceof MetadataUnavailableError) {
        throw new KafkaError(
          ErrorCode.REQUEST_TIMED_OUT,
          `${topic}-${partition} cannot be opened: ${err.message}`,
        );
      }
      throw err;
    }
  }

  /**
   * A read-only view of a partition this broker does not lead, from its committed state: data
   * is in the bucket, so any broker can serve a fetch. Appends are refused (NOT_LEADER).
   */
  static async view(
    topic: string,
    partition: number,
    deps: PartitionLogDeps,
  ): Promise<PartitionLog> {
    const current = await deps.metadata.readPartition(topic, partition);
    if (!current) {
      throw new KafkaError(
        ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        `${topic}-${partition} does not exist`,
      );
    }
    const segments = await deps.metadata.readSegments(topic, partition);
    const log = new PartitionLog(
      topic,
      partition,
      current.state,
      current.modRevision,
      segments,
      deps,
    );
    log.closing = true;
    return log;
  }

  private static async takeLeadership(
    topic: string,
    partition: number,
    deps: PartitionLogDeps,
  ): Promise<PartitionLog> {
    for (;;) {
      const current = await deps.metadata.readPartition(topic, partition);
      if (!current)
        throw new KafkaError(
          ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          `${topic}-${partition} does not exist`,
        );
      const segments = await deps.metadata.readSegments(topic, partition);
      const epoch = current.state.leaderEpoch + 1;
      const state: PartitionStateRecord = {
        ...current.state,
        leaderEpoch: epoch,
        epochs: [
          ...current.state.epochs,
          { epoch, startOffset: current.state.highWatermark },
        ].slice(-100),
      };
      // Through the committer: partitions taken together share transactions.
      const revision = await commitPartition(deps, {
        topic,
        partition,
        expectedRevision: current.modRevision,
        state,
        addSegments: [],
      });
      if (revision !== undefined) {
        deps.logger.info('partition opened', {
          topic,
          partition,
          epoch,
          highWatermark: state.highWatermark,
        });
        return new PartitionLog(topic, partition, state, revision, segments, deps);
      }
    }
  }

  get highWatermark(): number {
    return this.state.highWatermark;
  }

  get logStartOffset(): number {
    return this.state.logStartOffset;
  }

  get leaderEpoch(): number {
    return this.state.leaderEpoch;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get epochs(): { epoch: number; startOffset: number }[] {
    return this.state.epochs;
  }

  /** Committed segments in offset order (the manifest). */
  get manifest(): readonly SegmentRecord[] {
    return this.segments;
  }

  // -- produce --------------------------------------------------------------------------------

  /**
   * Assigns offsets to a validated batch and queues it for the next flush. Runs synchronously so
   * batches are ordered as they were appended. Throws KafkaError for idempotence violations.
   */
  append(batch: RecordBatch): AppendResult {
    if (this.closed || this.closing) {
      throw new KafkaError(
        ErrorCode.NOT_LEADER_OR_FOLLOWER,
        'this broker no longer leads the partition',
      );
    }
    const { header } = batch;
    const count = header.lastOffsetDelta + 1;
    const duplicate = this.producers.check(header);
    if (duplicate) {
      // A retry of a batch already committed or in flight: answer with its original offset.
      return {
        baseOffset: duplicate.firstOffset,
        durable: this.durableAfter(duplicate.lastOffset),
      };
    }
    if (this.deps.buffer && !this.deps.buffer.tryReserve(batch.bytes.length)) {
      throw new KafkaError(
        ErrorCode.KAFKA_STORAGE_ERROR,
        'produce buffer full: object storage is not keeping up (KAFSCALE_PRODUCE_BUFFER_BYTES)',
      );
    }
    const baseOffset = this.nextOffset;
    patchBaseOffset(batch.bytes, 0, baseOffset);
    patchPartitionLeaderEpoch(batch.bytes, 0, this.state.leaderEpoch);
    this.nextOffset += count;
    this.producers.record(header, baseOffset, baseOffset + count - 1);

    const window = this.window;
    window.batches.push({
      bytes: batch.bytes,
      baseOffset,
      lastOffset: baseOffset + count - 1,
      maxTimestamp: batchMaxTimestamp(batch.bytes, Date.now()),
    });
    window.bytes += batch.bytes.length;
    const durable = new Promise<void>((resolve, reject) =>
      window.waiters.push({ resolve, reject }),
    );
    this.scheduleFlush();
    return { baseOffset, durable };
  }

  /** Resolves when everything up to `lastOffset` is committed (for duplicates still in flight). */
  private async durableAfter(lastOffset: number): Promise<void> {
    const failures = this.failures;
    while (this.state.highWatermark <= lastOffset) {
      if (this.closed || this.failures !== failures) {
        throw new KafkaError(ErrorCode.REQUEST_TIMED_OUT, 'the original batch was not committed');
      }
      await this.nextCommit().promise;
    }
  }

  private scheduleFlush(): void {
    const window = this.window;
    if (window.due) return;
    if (window.bytes >= this.deps.config.segmentBytes) {
      if (window.timer) clearTimeout(window.timer);
      window.timer = undefined;
      window.due = true;
      this.startFlushes();
    } else if (!window.timer) {
      window.timer = setTimeout(() => {
        window.timer = undefined;
        window.due = true;
        this.startFlushes();
      }, this.deps.config.flushIntervalMs);
    }
  }

  private newWindow(): Window {
    return { batches: [], bytes: 0, waiters: [], generation: this.failures };
  }

  /**
   * Takes the current window for flushing when it is due and a flush slot is free. Its commit
   * slot is reserved now, so commits follow offset order whichever upload finishes first.
   */
  private startFlushes(): void {
    const window = this.window;
    if (!window.due || window.batches.length === 0 || this.inFlight >= MAX_FLUSHES_IN_FLIGHT)
      return;
    this.window = this.newWindow();
    this.inFlight++;
    this.flushWindow(window)
      .catch((err: unknown) => {
        // An unexpected failure: the outcome is unknown, so refuse retriably and reload.
        this.deps.logger.error('flush failed', {
          topic: this.topic,
          partition: this.partition,
          err: String(err),
        });
        this.failPending(window, new KafkaError(ErrorCode.REQUEST_TIMED_OUT, 'flush failed'));
        this.close();
      })
      .finally(() => {
        this.inFlight--;
        this.releaseWindow(window);
        // A window that became due while every slot was taken.
        this.startFlushes();
      });
  }

  /** Returns a window's bytes to the produce buffer, once: before its producers are answered. */
  private releaseWindow(window: Window): void {
    if (window.released) return;
    window.released = true;
    this.deps.buffer?.release(window.bytes);
  }

  /** Flushes everything queued now, and resolves when it is committed (or failed). */
  async flush(): Promise<void> {
    const window = this.window;
    if (window.batches.length > 0) {
      if (window.timer) clearTimeout(window.timer);
      window.timer = undefined;
      window.due = true;
      const done = new Promise<void>((resolve) =>
        window.waiters.push({ resolve, reject: () => resolve() }),
      );
      this.startFlushes();
      await done;
    }
    // Windows taken earlier hold earlier commit slots.
    await this.commitQueue;
  }

  private async flushWindow(window: Window): Promise<void> {
    const { cache, logger } = this.deps;
    const baseOffset = window.batches[0].baseOffset;
    const lastOffset = window.batches[window.batches.length - 1].lastOffset;
    const encoded = encodeSegment({
      baseOffset,
      batches: window.batches.map((b) => b.bytes),
      indexIntervalBytes: this.deps.config.indexIntervalBytes,
    });
    const uploaded = this.upload(baseOffset, encoded.segment, encoded.index);
    uploaded.catch(() => undefined);
    // Everything that reads or changes the log's state happens in the commit slot, in order.
    await this.serialized(async () => {
      let location: Pick<SegmentRecord, 'key' | 'indexKey' | 'dataStart' | 'dataEnd'>;
      try {
        location = await uploaded;
      } catch (err) {
        logger.warn('segment upload failed', {
          topic: this.topic,
          partition: this.partition,
          baseOffset,
          err: String(err),
        });
        if (window.generation === this.failures && !this.closed) {
          this.failPending(
            window,
            new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, 'object storage write failed'),
          );
          return;
        }
      }
      if (this.closed || window.generation !== this.failures) {
        // An earlier window failed (its offsets were given out again) or the log closed: these
        // offsets can never be committed.
        const error = this.closed
          ? new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, 'partition log closed')
          : new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, 'an earlier write failed');
        this.releaseWindow(window);
        for (const w of window.waiters) w.reject(error);
        return;
      }
      if (baseOffset !== this.state.highWatermark) {
        throw new Error(
          `${this.topic}-${this.partition}: window at ${baseOffset} after high watermark ` +
            `${this.state.highWatermark}`,
        );
      }
      const segment: SegmentRecord = {
        ...location!,
        baseOffset,
        lastOffset,
        maxTimestamp: Math.max(...window.batches.map((b) => b.maxTimestamp)),
        createdAt: Date.now(),
      };
      const next: PartitionStateRecord = {
        ...this.state,
        highWatermark: lastOffset + 1,
        commitId: randomBytes(8).toString('hex'),
        producers: this.producers.committedSnapshot(lastOffset),
      };
      const outcome = await this.commit(next, [segment], []);
      if (outcome !== 'committed') {
        const error =
          outcome === 'fenced'
            ? new KafkaError(
                ErrorCode.NOT_LEADER_OR_FOLLOWER,
                'partition was taken over by another writer',
              )
            : new KafkaError(
                ErrorCode.REQUEST_TIMED_OUT,
                'metadata store unavailable; commit outcome unknown',
              );
        this.failPending(window, error);
        this.close();
        return;
      }
      this.segments.push(segment);
      const region = segmentBatchRegion(encoded.segment.length);
      cache.set(dataCacheKey(segment), encoded.segment.subarray(region.start, region.end));
      this.deps.onFlush?.(encoded.segment.length);
      this.releaseWindow(window);
      for (const w of window.waiters) w.resolve();
      this.notifyCommit();
    });
  }

  /** Stores a segment and its index: packed with other partitions' when a packer is set. */
  private async upload(
    baseOffset: number,
    segment: Buffer,
    index: Buffer,
  ): Promise<Pick<SegmentRecord, 'key' | 'indexKey' | 'dataStart' | 'dataEnd'>> {
    const { config, objects, packer } = this.deps;
    if (packer) return packedSegmentFields(await packer.submit({ segment, index }));
    const keys = segmentKeys({
      namespace: config.namespace,
      topic: this.topic,
      partition: this.partition,
      baseOffset,
      writerId: newWriterId(this.state.leaderEpoch),
    });
    await Promise.all([objects.put(keys.segment, segment), objects.put(keys.index, index)]);
    const region = segmentBatchRegion(segment.length);
    return {
      key: keys.segment,
      indexKey: keys.index,
      dataStart: region.start,
      dataEnd: region.end,
    };
  }

  /** Runs `work` after every commit queued before it has settled. */
  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const run = this.commitQueue.then(work);
    this.commitQueue = run.catch(() => undefined);
    return run;
  }

  /**
   * Commits with the fencing compare. When the outcome is unknown (the store did not answer),
   * the truth is re-read before anything is retried.
   */
  private async commit(
    next: PartitionStateRecord,
    add: SegmentRecord[],
    remove: SegmentRemoval,
  ): Promise<'committed' | 'fenced' | 'unknown'> {
    const { metadata, logger } = this.deps;
    const deadline = Date.now() + 30_000;
    for (let attempt = 0; ; attempt++) {
      try {
        const revision = await commitPartition(this.deps, {
          topic: this.topic,
          partition: this.partition,
          expectedRevision: this.revision,
          state: next,
          addSegments: add,
          removeSegments: remove,
        });
        if (revision === undefined) return 'fenced';
        this.revision = revision;
        this.state = next;
        return 'committed';
      } catch (err) {
        if (!(err instanceof MetadataUnavailableError)) throw err;
        logger.warn('commit outcome unknown, re-reading', {
          topic: this.topic,
          partition: this.partition,
          attempt,
        });
      }
      for (;;) {
        if (Date.now() > deadline) return 'unknown';
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
        try {
          const current = await metadata.readPartition(this.topic, this.partition);
          if (!current) return 'fenced';
          if (current.state.commitId === next.commitId) {
            this.revision = current.modRevision;
            this.state = next;
            return 'committed';
          }
          if (current.modRevision !== this.revision) return 'fenced';
          break; // not committed and nobody else wrote: safe to try again
        } catch (err) {
          if (!(err instanceof MetadataUnavailableError)) throw err;
        }
      }
    }
  }

  /** Fails a window and everything queued after it: their offsets were assigned after its. */
  private failPending(window: Window, error: KafkaError): void {
    const queued = this.window;
    if (queued.timer) clearTimeout(queued.timer);
    this.failures++;
    this.window = this.newWindow();
    this.releaseWindow(window);
    this.releaseWindow(queued);
    this.nextOffset = this.state.highWatermark;
    this.producers.reset(this.state.producers);
    // Windows still in flight belong to the old generation: their commit slots refuse them.
    for (const w of [...window.waiters, ...queued.waiters]) w.reject(error);
    this.notifyCommit();
  }

  /**
   * Stops accepting appends; anything queued and not yet flushing is refused (its offsets were
   * never committed). The log manager opens a fresh log from the metadata store when needed.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const queued = this.window;
    if (queued.timer) clearTimeout(queued.timer);
    this.window = this.newWindow();
    this.releaseWindow(queued);
    const error = new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, 'partition log closed');
    for (const w of queued.waiters) w.reject(error);
    this.notifyCommit();
  }

  /** Refuses new appends, flushes and commits what is queued, then closes (hand-off, shutdown). */
  async shutdown(): Promise<void> {
    this.closing = true;
    await this.flush();
    this.close();
  }

  // -- commit notifications (fetch long poll) -------------------------------------------------

  private notifyCommit(): void {
    const waiters = this.commitWaiters;
    this.commitWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves at the next commit (or close). */
  nextCommit(): { promise: Promise<void>; cancel: () => void } {
    let waiter: () => void = () => {};
    const promise = new Promise<void>((resolve) => {
      waiter = resolve;
      this.commitWaiters.push(resolve);
    });
    return {
      promise,
      cancel: () => {
        this.commitWaiters = this.commitWaiters.filter((w) => w !== waiter);
      },
    };
  }

  // -- read -----------------------------------------------------------------------------------

  /** Reads committed batches from `offset`, up to about maxBytes (at least one batch). */
  async read(offset: number, maxBytes: number): Promise<ReadResult> {
    const highWatermark = this.state.highWatermark;
    const logStartOffset = this.state.logStartOffset;
    if (offset < logStartOffset || offset > highWatermark) {
      throw new KafkaError(
        ErrorCode.OFFSET_OUT_OF_RANGE,
        `offset ${offset} outside [${logStartOffset}, ${highWatermark}]`,
      );
    }
    const result: ReadResult = { batches: [], bytes: 0, highWatermark, logStartOffset };
    // Compaction replaces the array rather than changing it: this read keeps one consistent view.
    const segments = this.segments;
    let i = PartitionLog.segmentIndexFor(segments, offset);
    let position = offset;
    while (i >= 0 && i < segments.length && position < highWatermark) {
      const segment = segments[i];
      const budget = Math.max(maxBytes - result.bytes, 0);
      const data = await this.segmentData(
        segment,
        position,
        result.bytes === 0 ? Math.max(budget, 1) : budget,
      );
      let at = 0;
      while (at + LOG_OVERHEAD <= data.length) {
        const size = LOG_OVERHEAD + data.readInt32BE(at + 8);
        if (at + size > data.length) break;
        const base = readInt64(data, at);
        const last = base + data.readInt32BE(at + 23);
        if (last >= position) {
          if (result.bytes > 0 && result.bytes + size > maxBytes) return result;
          result.batches.push(data.subarray(at, at + size));
          result.bytes += size;
        }
        at += size;
      }
      position = segment.lastOffset + 1;
      if (result.bytes >= maxBytes) break;
      i++;
    }
    this.readAhead(segments, i + 1);
    return result;
  }

  /** The index of the segment holding `offset` (the last one starting at or before it). */
  private static segmentIndexFor(segments: readonly SegmentRecord[], offset: number): number {
    let low = 0;
    let high = segments.length - 1;
    let found = -1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      if (segments[mid].baseOffset <= offset) {
        found = mid;
        low = mid + 1;
      } else {
        high = mid - 1;
      }
    }
    return found === -1 && segments.length > 0 ? 0 : found;
  }

  /**
   * Batch bytes of a segment from `offset` on: the cached region, the whole region for small
   * segments, or an index-guided range read for large ones.
   */
  private async segmentData(
    segment: SegmentRecord,
    offset: number,
    maxBytes: number,
  ): Promise<Buffer> {
    const { cache, config } = this.deps;
    const cached = cache.get(dataCacheKey(segment));
    if (cached) return cached;
    const size = segment.dataEnd - segment.dataStart;
    if (size <= config.rangeReadThresholdBytes) return this.fetchRegion(segment);
    const { objects } = this.deps;
    let indexBytes = cache.get(indexCacheKey(segment));
    if (!indexBytes) {
      indexBytes = await objects.get(segment.indexKey, indexRange(segment));
      cache.set(indexCacheKey(segment), indexBytes);
    }
    // Index positions count from the start of the partition's segment, wherever it is stored.
    const indexed = segmentOrigin(segment) + lookupPosition(decodeIndex(indexBytes), offset);
    const start = Math.max(segment.dataStart, indexed);
    const end = Math.min(
      segment.dataEnd,
      start + Math.max(maxBytes, 64 * 1024) + TAIL_WALK_LIMIT / 64,
    );
    let data = await objects.get(segment.key, { start, end });
    if (data.length >= LOG_OVERHEAD && LOG_OVERHEAD + data.readInt32BE(8) > data.length) {
      // The first batch is larger than the range: read exactly that batch.
      const batchEnd = Math.min(segment.dataEnd, start + LOG_OVERHEAD + data.readInt32BE(8));
      data = await objects.get(segment.key, { start, end: batchEnd });
    }
    return data;
  }

  /** The whole batch region of a committed segment, from the cache or the object store. */
  async readRegion(segment: SegmentRecord): Promise<Buffer> {
    return this.deps.cache.get(dataCacheKey(segment)) ?? this.fetchRegion(segment);
  }

  private fetchRegion(segment: SegmentRecord): Promise<Buffer> {
    const key = dataCacheKey(segment);
    const pending = this.regionReads.get(key);
    if (pending) return pending;
    const range = { start: segment.dataStart, end: segment.dataEnd };
    const read = this.deps.objects.get(segment.key, range).then((data) => {
      this.deps.cache.set(key, data);
      return data;
    });
    this.regionReads.set(key, read);
    void read.then(
      () => this.regionReads.delete(key),
      () => this.regionReads.delete(key),
    );
    return read;
  }

  /**
   * Starts reading the segment that holds `offset` (and the read-ahead after it) without waiting:
   * a fetch of many partitions warms them all at once, then reads them in order from the cache.
   */
  warm(offset: number): void {
    const segments = this.segments;
    if (offset >= this.state.highWatermark || segments.length === 0) return;
    this.readAhead(segments, PartitionLog.segmentIndexFor(segments, offset));
  }

  /** Not cached and read whole (segments above the range-read threshold are read in ranges). */
  private readable(segment: SegmentRecord): boolean {
    const { cache, config } = this.deps;
    return (
      segment.dataEnd - segment.dataStart <= config.rangeReadThresholdBytes &&
      !cache.has(dataCacheKey(segment))
    );
  }

  /**
   * Warms the cache with the segments a sequential reader will want next: at least
   * `readAheadSegments` and READ_AHEAD_BYTES, within the process-wide READ_AHEAD_BYTES_IN_FLIGHT.
   */
  private readAhead(segments: readonly SegmentRecord[], from: number): void {
    const { config } = this.deps;
    if (config.readAheadSegments === 0) return;
    let covered = 0;
    const end = Math.min(segments.length, from + READ_AHEAD_MAX_SEGMENTS);
    for (let i = from; i < end; i++) {
      if (i - from >= config.readAheadSegments && covered >= READ_AHEAD_BYTES) break;
      const segment = segments[i];
      const size = segment.dataEnd - segment.dataStart;
      covered += size;
      if (!this.readable(segment) || this.regionReads.has(dataCacheKey(segment))) continue;
      if (readAheadInFlight + size > READ_AHEAD_BYTES_IN_FLIGHT) break;
      readAheadInFlight += size;
      const read = this.fetchRegion(segment);
      void read.then(
        () => (readAheadInFlight -= size),
        (err: unknown) => {
          readAheadInFlight -= size;
          this.deps.logger.debug('read-ahead failed', { key: segment.key, err: String(err) });
        },
      );
    }
  }

  // -- offsets by time ------------------------------------------------------------------------

  /**
   * The first offset with a timestamp >= ts, or -1. Exact for uncompressed and gzip batches;
   * the start of the batch for codecs the broker cannot read (snappy, lz4, zstd).
   */
  async offsetForTimestamp(ts: number): Promise<{ offset: number; timestamp: number }> {
    for (const segment of this.segments) {
      if (segment.maxTimestamp < ts || segment.lastOffset < this.state.logStartOffset) continue;
      const data = await this.segmentData(segment, segment.baseOffset, Number.MAX_SAFE_INTEGER);
      for (
        let at = 0;
        at + LOG_OVERHEAD <= data.length;
        at += LOG_OVERHEAD + data.readInt32BE(at + 8)
      ) {
        const size = LOG_OVERHEAD + data.readInt32BE(at + 8);
        const maxTimestamp = batchMaxTimestamp(data.subarray(at, at + size), segment.maxTimestamp);
        const base = readInt64(data, at);
        const start = this.state.logStartOffset;
        if (maxTimestamp >= ts && base + data.readInt32BE(at + 23) >= start) {
          // The first record at or after ts, when the batch can be read; else the batch start.
          const records = decodeRecordsIfReadable(data.subarray(at, at + size));
          const hit = records?.find((r) => r.timestamp >= ts && r.offset >= start);
          if (hit) return { offset: hit.offset, timestamp: hit.timestamp };
          return { offset: Math.max(base, start), timestamp: maxTimestamp };
        }
      }
    }
    return { offset: -1, timestamp: -1 };
  }

  /** The offset and timestamp of the batch with the largest timestamp. */
  maxTimestamp(): { offset: number; timestamp: number } {
    let best = { offset: -1, timestamp: -1 };
    for (const s of this.segments) {
      if (s.lastOffset >= this.state.logStartOffset && s.maxTimestamp > best.timestamp) {
        best = { offset: s.lastOffset, timestamp: s.maxTimestamp };
      }
    }
    return best;
  }

  // -- retention and DeleteRecords ------------------------------------------------------------

  /**
   * Advances the log start offset and drops segments entirely below it. The objects are deleted
   * after the commit; a crash in between leaves garbage for the sweeper, never a dangling entry.
   */
  async truncateBefore(newStart: number): Promise<number> {
    if (newStart <= this.state.logStartOffset) return this.state.logStartOffset;
    await this.flush();
    const start = Math.min(newStart, this.state.highWatermark);
    const { outcome, dropped } = await this.serialized(async () => {
      const dropped = this.segments.filter((s) => s.lastOffset < start);
      const next: PartitionStateRecord = {
        ...this.state,
        logStartOffset: start,
        commitId: randomBytes(8).toString('hex'),
      };
      // The dropped entries are a prefix of the manifest: one range delete, however many.
      const outcome = await this.commit(
        next,
        [],
        dropped.length > 0 ? { from: 0, to: dropped[dropped.length - 1].baseOffset + 1 } : [],
      );
      if (outcome === 'committed') {
        this.segments = this.segments.filter((s) => s.lastOffset >= start);
      }
      return { outcome, dropped };
    });
    if (outcome !== 'committed') {
      this.close();
      throw new KafkaError(
        outcome === 'fenced' ? ErrorCode.NOT_LEADER_OR_FOLLOWER : ErrorCode.REQUEST_TIMED_OUT,
        'could not commit the new log start offset',
      );
    }
    for (const s of dropped) {
      this.deps.cache.delete(dataCacheKey(s));
      this.deps.cache.delete(indexCacheKey(s));
    }
    const keys = dropped.flatMap(exclusiveObjectKeys);
    if (keys.length === 0) return start;
    await this.deps.objects.delete(keys).catch((err: unknown) => {
      this.deps.logger.warn('deleting expired segments failed; the sweeper will retry', {
        err: String(err),
      });
    });
    return start;
  }

  // -- compaction -----------------------------------------------------------------------------

  /**
   * Swaps a run of committed segments for one segment holding the same batches, in one fenced
   * commit (the replacement takes the first entry's manifest key). Resolves false, changing
   * nothing, when the run is no longer in the manifest as given (retention or hand-off came
   * first). `region` is the replacement's batch region, kept as the tail cache.
   */
  async replaceSegments(
    run: readonly SegmentRecord[],
    replacement: SegmentRecord,
    region: Buffer,
  ): Promise<boolean> {
    if (run.length === 0 || replacement.baseOffset !== run[0].baseOffset) {
      throw new RangeError('a replacement must start where the run starts');
    }
    const outcome = await this.serialized(async () => {
      if (this.closed || this.closing) return 'stale';
      const at = this.segments.indexOf(run[0]);
      if (at < 0 || run.some((s, i) => this.segments[at + i] !== s)) return 'stale';
      const next: PartitionStateRecord = {
        ...this.state,
        commitId: randomBytes(8).toString('hex'),
      };
      // The replacement overwrites the first entry; the rest of the run (contiguous in the
      // manifest, nothing else between) goes in one range delete, whatever the run's length.
      const result = await this.commit(next, [replacement], {
        from: run[0].baseOffset + 1,
        to: run[run.length - 1].lastOffset + 1,
      });
      if (result === 'committed') {
        this.segments = [
          ...this.segments.slice(0, at),
          replacement,
          ...this.segments.slice(at + run.length),
        ];
      }
      return result;
    });
    if (outcome === 'stale') return false;
    if (outcome !== 'committed') {
      this.close();
      throw new KafkaError(
        outcome === 'fenced' ? ErrorCode.NOT_LEADER_OR_FOLLOWER : ErrorCode.REQUEST_TIMED_OUT,
        'could not commit the compacted segment',
      );
    }
    for (const s of run) {
      this.deps.cache.delete(dataCacheKey(s));
      this.deps.cache.delete(indexCacheKey(s));
    }
    this.deps.cache.set(dataCacheKey(replacement), region);
    return true;
  }

  /** Applies retention.ms and retention.bytes (-1 disables either). */
  async enforceRetention(
    retentionMs: number,
    retentionBytes: number,
    now = Date.now(),
  ): Promise<void> {
    let newStart = this.state.logStartOffset;
    if (retentionMs >= 0) {
      for (const s of this.segments) {
        if (s.maxTimestamp >= now - retentionMs) break;
        newStart = s.lastOffset + 1;
      }
    }
    if (retentionBytes >= 0) {
      let total = this.segments.reduce((sum, s) => sum + (s.dataEnd - s.dataStart), 0);
      for (const s of this.segments) {
        if (total <= retentionBytes) break;
        total -= s.dataEnd - s.dataStart;
        newStart = Math.max(newStart, s.lastOffset + 1);
      }
    }
    if (newStart > this.state.logStartOffset) await this.truncateBefore(newStart);
  }
}
