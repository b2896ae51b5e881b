import type { ClusterMetadata } from '../metadata/cluster-metadata.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { SegmentCache } from '../storage/segment-cache.js';
import type { Logger } from '../logger.js';
import { PartitionLog, type LogConfig } from './partition-log.js';
import { topicConfigNumber } from '../metadata/topic-config.js';

/**
 * Opens partition logs on first use and keeps one per partition. A closed log (fenced, or its
 * commit outcome unknown) is replaced by a fresh one loaded from the metadata store.
 */
export class LogManager {
  private readonly logs = new Map<string, PartitionLog>();
  private readonly opening = new Map<string, Promise<PartitionLog>>();
  private retentionTimer?: NodeJS.Timeout;

  constructor(
    private readonly deps: {
      metadata: ClusterMetadata;
      objects: ObjectStore;
      cache: SegmentCache;
      config: LogConfig;
      logger: Logger;
    },
  ) {
    deps.metadata.onTopicChange((name, topic) => {
      for (const [key, log] of this.logs) {
        if (log.topic === name && (!topic || log.partition >= topic.partitions)) {
          log.close();
          this.logs.delete(key);
        }
      }
    });
  }

  private static key(topic: string, partition: number): string {
    return `${topic}\u0000${partition}`;
  }

  /** The open log, if there is one (synchronous, for the fast path). */
  peek(topic: string, partition: number): PartitionLog | undefined {
    const log = this.logs.get(LogManager.key(topic, partition));
    return log && !log.isClosed ? log : undefined;
  }

  async get(topic: string, partition: number): Promise<PartitionLog> {
    const key = LogManager.key(topic, partition);
    const log = this.logs.get(key);
    if (log && !log.isClosed) return log;
    let opening = this.opening.get(key);
    if (!opening) {
      opening = PartitionLog.open(topic, partition, this.deps).finally(() =>
        this.opening.delete(key),
      );
      this.opening.set(key, opening);
      const opened = await opening;
      this.logs.set(key, opened);
      return opened;
    }
    return opening;
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

  /** Flushes and closes every log (graceful shutdown). */
  async shutdown(): Promise<void> {
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    await Promise.all([...this.logs.values()].map((log) => log.shutdown().catch(() => undefined)));
    this.logs.clear();
  }
}
