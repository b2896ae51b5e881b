import { MetadataUnavailableError } from '../metadata/metadata-store.js';
import type { SegmentCache } from '../storage/segment-cache.js';
import { PartitionLog, type LogConfig, type PartitionLogDeps } from './partition-log.js';
import { topicConfigNumber } from '../metadata/topic-config.js';
import type { Membership } from '../cluster/membership.js';
import { ownerOf, partitionKey } from '../cluster/placement.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { KafkaError } from './kafka-error.js';
import type { ProduceBuffer } from './produce-buffer.js';
import { SegmentPacker } from './segment-packer.js';
import { SegmentCompactor } from './segment-compactor.js';
import { CommitBatcher } from './commit-batcher.js';

const VIEW_TTL_MS = 500;
const MAX_VIEWS = 10_000;

/** The most a flushed segment waits for others to share its PUT after a quiet spell. */
const PACK_LINGER_MS = 5;
/**
 * Partitions compacted at the same time by one pass. Compaction is background work: after a
 * restart every partition with a full run is due at once, and 16 at a time made the GETs and PUTs
 * of those rewrites compete with consumers catching up (cold reads at 28-40 MB/s instead of
 * 65-73 on the benchmark's store). Two keep a steady producer's runs compacted from the cache.
 */
const COMPACTION_CONCURRENCY = 2;
/** Runs one partition may have rewritten per pass, so a backlog cannot hold up the others. */
const COMPACTIONS_PER_PASS = 10;

/**
 * The partitions this broker leads. Leaders are placed by rendezvous hashing over the live
 * brokers; a broker takes a partition on first use by acquiring its leader key under its lease
 * and bumping the partition's epoch (which fences the previous writer), and hands it off when
 * the live set says another broker should lead it: no more appends, flush, commit, release.
 * A closed log (fenced, or its commit outcome unknown) is replaced by a fresh one.
 */
export class LogManager {
  private readonly logs = new Map<string, PartitionLog>();
  private readonly opening = new Map<string, Promise<PartitionLog>>();
  /** Read-only views of partitions other brokers lead, for fetches sent here. */
  private readonly views = new Map<string, { log: PartitionLog; loadedAt: number }>();
  private retentionTimer?: NodeJS.Timeout;
  private compactionTimer?: NodeJS.Timeout;
  private compacting?: Promise<number>;
  /** Present when segments are packed (KAFSCALE_PACK_SEGMENTS). */
  readonly packer?: SegmentPacker;
  private readonly compactor?: SegmentCompactor;
  /** Commits of partitions flushed together go to the metadata store in one transaction. */
  readonly committer: CommitBatcher;
  /** Called with the size of every segment a partition commits (metrics). */
  onFlush?: (segmentBytes: number) => void;

  constructor(
    private readonly deps: Omit<PartitionLogDeps, 'onFlush' | 'packer' | 'committer'> & {
      membership: Membership;
    },
  ) {
    const { config } = deps;
    this.committer = new CommitBatcher(deps.metadata);
    if (config.packSegments) {
      this.packer = new SegmentPacker(
        deps.objects,
        deps.logger,
        {
          namespace: config.namespace,
          intervalMs: config.flushIntervalMs,
          lingerMs: Math.min(PACK_LINGER_MS, config.flushIntervalMs / 2),
          maxBytes: config.segmentBytes,
        },
        deps.membership.self.nodeId,
      );
      this.compactor = new SegmentCompactor(deps.objects, deps.logger, {
        namespace: config.namespace,
        minBytes: config.compactBytes,
        maxAgeMs: config.compactMaxAgeMs,
        indexIntervalBytes: config.indexIntervalBytes,
      });
    }
    deps.membership.onChange(() => this.rebalance());
    deps.metadata.onTopicChange((name, topic) => {
      for (const [key, log] of this.logs) {
        if (log.topic === name && (!topic || log.partition >= topic.partitions)) {
          log.close();
          this.logs.delete(key);
        }
      }
    });
  }

  /** The produce budget shared by every partition, when bounded. */
  get buffer(): ProduceBuffer | undefined {
    return this.deps.buffer;
  }

  /** The settings every partition log is opened with. */
  get logConfig(): LogConfig {
    return this.deps.config;
  }

  /** The segment cache shared by every partition. */
  get cache(): SegmentCache {
    return this.deps.cache;
  }

  private static key(topic: string, partition: number): string {
    return `${topic}\u0000${partition}`;
  }

  /** The open log, if there is one (synchronous, for the fast path). */
  peek(topic: string, partition: number): PartitionLog | undefined {
    const log = this.logs.get(LogManager.key(topic, partition));
    return log && !log.isClosed ? log : undefined;
  }

  /** The broker that should lead the partition, by placement over the live brokers. */
  leaderOf(topic: string, partition: number): number | undefined {
    return ownerOf(partitionKey(topic, partition), this.deps.membership.brokerIds());
  }

  /**
   * A log to read from: the open log where this broker leads the partition, else a read-only
   * view of its committed state (refreshed at most every VIEW_TTL_MS), so any broker can serve a
   * fetch; the leader still serves the tail from memory.
   */
  async reader(topic: string, partition: number): Promise<PartitionLog> {
    try {
      return this.peek(topic, partition) ?? (await this.get(topic, partition));
    } catch (err) {
      const code = err instanceof KafkaError ? err.code : undefined;
      if (code !== ErrorCode.NOT_LEADER_OR_FOLLOWER && code !== ErrorCode.LEADER_NOT_AVAILABLE)
        throw err;
    }
    const key = LogManager.key(topic, partition);
    const cached = this.views.get(key);
    if (cached && Date.now() - cached.loadedAt < VIEW_TTL_MS) return cached.log;
    const log = await PartitionLog.view(topic, partition, this.deps);
    this.views.set(key, { log, loadedAt: Date.now() });
    if (this.views.size > MAX_VIEWS) this.views.delete(this.views.keys().next().value!);
    return log;
  }

  /** The partition's log if this broker leads it; throws NOT_LEADER_OR_FOLLOWER otherwise. */
  async get(topic: string, partition: number): Promise<PartitionLog> {
    const key = LogManager.key(topic, partition);
    const log = this.logs.get(key);
    if (log && !log.isClosed) return log;
    let opening = this.opening.get(key);
    if (!opening) {
      opening = this.open(topic, partition).finally(() => this.opening.delete(key));
      this.opening.set(key, opening);
    }
    return opening;
  }

  private async open(topic: string, partition: number): Promise<PartitionLog> {
    const { membership, metadata } = this.deps;
    const self = membership.self.nodeId;
    if (!membership.isLive || this.leaderOf(topic, partition) !== self) {
      throw new KafkaError(
        ErrorCode.NOT_LEADER_OR_FOLLOWER,
        `broker ${self} does not lead ${topic}-${partition}`,
      );
    }
    const leaderKey = metadata.leaderKey(topic, partition);
    const { acquired, holder } = await metadata
      .acquire(leaderKey, self, membership.lease.id)
      .catch((err: unknown) => {
        // Retriable for clients, as in PartitionLog.open: UNKNOWN_SERVER_ERROR would be fatal.
        if (err instanceof MetadataUnavailableError) {
          throw new KafkaError(
            ErrorCode.REQUEST_TIMED_OUT,
            `${topic}-${partition} cannot be opened: ${err.message}`,
          );
        }
        throw err;
      });
    if (!acquired) {
      // The previous leader is still handing off, or its lease has not expired yet.
      throw new KafkaError(
        ErrorCode.LEADER_NOT_AVAILABLE,
        `${topic}-${partition} is still held by broker ${holder}`,
      );
    }
    const log = await PartitionLog.open(topic, partition, {
      ...this.deps,
      onFlush: (bytes) => this.onFlush?.(bytes),
      packer: this.packer,
      committer: this.committer,
    });
    this.logs.set(LogManager.key(topic, partition), log);
    if (this.leaderOf(topic, partition) !== self) void this.handOff(log);
    return log;
  }

  /** Hands off every partition another broker should lead now. */
  private rebalance(): void {
    const { membership } = this.deps;
    for (const log of this.logs.values()) {
      const leader = this.leaderOf(log.topic, log.partition);
      if (!membership.isLive || leader !== membership.self.nodeId) void this.handOff(log);
    }
  }

  private async handOff(log: PartitionLog): Promise<void> {
    const { metadata, membership, logger } = this.deps;
    const key = LogManager.key(log.topic, log.partition);
    if (this.logs.get(key) !== log) return;
    this.logs.delete(key);
    await log.shutdown().catch((err: unknown) => {
      logger.warn('hand-off flush failed', { topic: log.topic, err: String(err) });
    });
    const leaderKey = metadata.leaderKey(log.topic, log.partition);
    await metadata
      .release(leaderKey, membership.self.nodeId, membership.lease.id)
      .catch((err: unknown) => {
        logger.warn('releasing leadership failed', { topic: log.topic, err: String(err) });
      });
    logger.info('partition handed off', { topic: log.topic, partition: log.partition });
  }

  /** Runs retention for every open partition every intervalMs. */
  startRetention(intervalMs: number): void {
    this.retentionTimer = setInterval(() => void this.enforceRetention(), intervalMs);
    this.retentionTimer.unref();
  }

  async enforceRetention(): Promise<void> {
    for (const log of this.logs.values()) {
      const topic = this.deps.metadata.topic(log.topic);
      if (!topic || log.isClosed) continue;
      try {
        await log.enforceRetention(
          topicConfigNumber(topic, 'retention.ms'),
          topicConfigNumber(topic, 'retention.bytes'),
        );
      } catch (err) {
        this.deps.logger.warn('retention failed', {
          topic: log.topic,
          partition: log.partition,
          err: String(err),
        });
      }
    }
  }

  /** Compacts packed segments of every open partition every intervalMs (when packing). */
  startCompaction(intervalMs = Math.min(1000, this.deps.config.compactMaxAgeMs)): void {
    if (!this.compactor) return;
    this.compactionTimer = setInterval(() => void this.compact(), Math.max(10, intervalMs));
    this.compactionTimer.unref();
  }

  /** One compaction pass over the open partitions; resolves with the runs swapped in. */
  compact(now?: number): Promise<number> {
    this.compacting ??= this.compactionPass(now).finally(() => (this.compacting = undefined));
    return this.compacting;
  }

  private async compactionPass(now?: number): Promise<number> {
    const compactor = this.compactor;
    if (!compactor) return 0;
    const queue = this.openLogs();
    let swapped = 0;
    const worker = async () => {
      for (let log = queue.shift(); log; log = queue.shift()) {
        try {
          for (let i = 0; i < COMPACTIONS_PER_PASS && !log.isClosed; i++) {
            if (!(await compactor.compact(log, now))) break;
            swapped++;
          }
        } catch (err) {
          this.deps.logger.warn('compaction failed', {
            topic: log.topic,
            partition: log.partition,
            err: String(err),
          });
        }
      }
    };
    await Promise.all(Array.from({ length: COMPACTION_CONCURRENCY }, worker));
    return swapped;
  }

  /** Flushes, commits and releases every partition (graceful shutdown). */
  async shutdown(): Promise<void> {
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    if (this.compactionTimer) clearInterval(this.compactionTimer);
    await this.compacting;
    await Promise.all([...this.logs.values()].map((log) => this.handOff(log)));
    await this.packer?.drain();
  }

  /** Open logs this broker leads (for metrics and tests). */
  openLogs(): PartitionLog[] {
    return [...this.logs.values()].filter((log) => !log.isClosed);
  }
}
