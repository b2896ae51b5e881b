import { holderValue, type ClusterMetadata } from '../metadata/cluster-metadata.js';
import type { Compare } from '../metadata/metadata-store.js';
import type { Membership } from '../cluster/membership.js';
import { groupKey, ownerOf } from '../cluster/placement.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { KafkaError } from '../log/kafka-error.js';
import type { OffsetRecord } from '../metadata/model.js';
import type { Logger } from '../logger.js';
import { ConsumerGroup } from './consumer-group.js';

export interface GroupCoordinatorOptions {
  initialRebalanceDelayMs: number;
}

/**
 * The groups this broker coordinates: membership in memory (persisted after each rebalance),
 * committed offsets in the metadata store with an in-memory copy. Each group has one
 * coordinator, placed like partitions (rendezvous hashing over the live brokers) and holding
 * the group's coordinator key under its lease; every write is fenced on that key, so a paused
 * former coordinator can never overwrite its successor. Groups are loaded from the store on
 * first use, so a coordinator that takes over (or restarts) continues where the last stopped.
 */
export class GroupCoordinator {
  private readonly groups = new Map<string, ConsumerGroup>();
  private readonly offsets = new Map<string, Map<string, OffsetRecord>>();
  private readonly loading = new Map<string, Promise<ConsumerGroup>>();
  /** Per-group chain of store writes, so they land in the order they were made. */
  private readonly writes = new Map<string, Promise<unknown>>();

  constructor(
    private readonly metadata: ClusterMetadata,
    private readonly logger: Logger,
    private readonly membership: Membership,
    private readonly options: GroupCoordinatorOptions,
  ) {
    membership.onChange(() => this.rebalance());
    metadata.onTopicChange((name, topic) => {
      if (topic) return;
      for (const offsets of this.offsets.values()) {
        for (const key of [...offsets.keys()]) if (key.startsWith(`${name}/`)) offsets.delete(key);
      }
      metadata.deleteTopicOffsets(name).catch((err: unknown) => {
        logger.warn('removing offsets of a deleted topic failed', {
          topic: name,
          err: String(err),
        });
      });
    });
  }

  /** The broker that coordinates a group, by placement over the live brokers. */
  coordinatorOf(groupId: string): number | undefined {
    return ownerOf(groupKey(groupId), this.membership.brokerIds());
  }

  private isCoordinator(groupId: string): boolean {
    return this.membership.isLive && this.coordinatorOf(groupId) === this.membership.self.nodeId;
  }

  /** The compare every write of a group carries: we still hold its coordinator key. */
  private fence(groupId: string): Compare[] {
    const { self, lease } = this.membership;
    const value = holderValue(self.nodeId, lease.id);
    return [{ key: this.metadata.coordinatorKey(groupId), target: 'value', op: '=', value }];
  }

  private fenced(groupId: string): never {
    void this.drop(groupId);
    throw new KafkaError(
      ErrorCode.NOT_COORDINATOR,
      `broker ${this.membership.self.nodeId} lost group ${groupId}`,
    );
  }

  /**
   * The group, loaded from the store if needed; a new empty group if it never existed.
   * Throws NOT_COORDINATOR when another broker coordinates it.
   */
  async group(groupId: string): Promise<ConsumerGroup> {
    if (!this.isCoordinator(groupId)) {
      throw new KafkaError(
        ErrorCode.NOT_COORDINATOR,
        `broker ${this.membership.self.nodeId} does not coordinate ${groupId}`,
      );
    }
    const existing = this.groups.get(groupId);
    if (existing && existing.state !== 'Dead') return existing;
    let loading = this.loading.get(groupId);
    if (!loading) {
      loading = this.load(groupId).finally(() => this.loading.delete(groupId));
      this.loading.set(groupId, loading);
    }
    return loading;
  }

  /** The group only if it is in memory or in the store (for describe, delete and fetch). */
  async existingGroup(groupId: string): Promise<ConsumerGroup | undefined> {
    const group = await this.group(groupId);
    if (
      group.state === 'Empty' &&
      group.generationId === 0 &&
      (this.offsets.get(groupId)?.size ?? 0) === 0
    ) {
      return undefined;
    }
    return group;
  }

  private async load(groupId: string): Promise<ConsumerGroup> {
    const { self, lease } = this.membership;
    const key = this.metadata.coordinatorKey(groupId);
    const { acquired, holder } = await this.metadata.acquire(key, self.nodeId, lease.id);
    if (!acquired) {
      throw new KafkaError(
        ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
        `group ${groupId} is still held by broker ${holder}`,
      );
    }
    const { group: record, offsets } = await this.metadata.loadGroup(groupId);
    const options = {
      initialRebalanceDelayMs: this.options.initialRebalanceDelayMs,
      onStable: (g: ConsumerGroup) => this.persist(g),
    };
    const group = record
      ? ConsumerGroup.fromRecord(record, options)
      : new ConsumerGroup(groupId, options);
    this.groups.set(groupId, group);
    this.offsets.set(groupId, offsets);
    return group;
  }

  private chain<T>(groupId: string, write: () => Promise<T>): Promise<T> {
    const previous = this.writes.get(groupId) ?? Promise.resolve();
    const next = previous.then(write, write);
    this.writes.set(
      groupId,
      next.catch(() => undefined),
    );
    return next;
  }

  private persist(group: ConsumerGroup): void {
    const record = group.toRecord();
    this.chain(group.groupId, () => this.metadata.saveGroup(record, this.fence(group.groupId)))
      .then((saved) => {
        if (!saved) this.fenced(group.groupId);
      })
      .catch((err: unknown) => {
        this.logger.warn('saving group membership failed', {
          group: group.groupId,
          err: String(err),
        });
      });
  }

  /** Gives up groups another broker should coordinate now. */
  private rebalance(): void {
    for (const groupId of [...this.groups.keys()]) {
      if (!this.isCoordinator(groupId)) void this.drop(groupId);
    }
  }

  /** Forgets a group (its members find the new coordinator) and releases its key. */
  private async drop(groupId: string): Promise<void> {
    const group = this.groups.get(groupId);
    if (!group) return;
    this.groups.delete(groupId);
    this.offsets.delete(groupId);
    group.kill();
    const { self, lease } = this.membership;
    const key = this.metadata.coordinatorKey(groupId);
    await this.metadata.release(key, self.nodeId, lease.id).catch(() => undefined);
    this.logger.info('group coordination handed off', { group: groupId });
  }

  offsetsOf(groupId: string): ReadonlyMap<string, OffsetRecord> {
    return this.offsets.get(groupId) ?? new Map();
  }

  async commitOffsets(
    groupId: string,
    entries: { topic: string; partition: number; record: OffsetRecord }[],
  ): Promise<void> {
    const committed = await this.chain(groupId, () =>
      this.metadata.commitOffsets(groupId, entries, this.fence(groupId)),
    );
    if (!committed) this.fenced(groupId);
    let offsets = this.offsets.get(groupId);
    if (!offsets) this.offsets.set(groupId, (offsets = new Map()));
    for (const e of entries) offsets.set(`${e.topic}/${e.partition}`, e.record);
  }

  async deleteOffsets(
    groupId: string,
    partitions: { topic: string; partition: number }[],
  ): Promise<void> {
    const deleted = await this.chain(groupId, () =>
      this.metadata.deleteOffsets(groupId, partitions, this.fence(groupId)),
    );
    if (!deleted) this.fenced(groupId);
    const offsets = this.offsets.get(groupId);
    for (const p of partitions) offsets?.delete(`${p.topic}/${p.partition}`);
  }

  async deleteGroup(groupId: string): Promise<void> {
    const deleted = await this.chain(groupId, () =>
      this.metadata.deleteGroup(groupId, this.fence(groupId)),
    );
    if (!deleted) this.fenced(groupId);
    this.groups.get(groupId)?.kill();
    this.groups.delete(groupId);
    this.offsets.delete(groupId);
  }

  /** Every group this broker coordinates, in memory or in the store. */
  async allGroups(): Promise<ConsumerGroup[]> {
    const ids = new Set([...this.groups.keys(), ...(await this.metadata.groupIds())]);
    const mine = [...ids].filter((id) => this.isCoordinator(id));
    const groups = await Promise.all(
      mine.map((id) => this.existingGroup(id).catch(() => undefined)),
    );
    return groups.filter((g): g is ConsumerGroup => g !== undefined && g.state !== 'Dead');
  }

  /**
   * Consumer lag of the groups this broker coordinates: high watermark minus committed offset,
   * per group and partition. The high watermark comes from the partition's committed state.
   */
  async consumerLag(): Promise<{ group: string; topic: string; partition: number; lag: number }[]> {
    const out: { group: string; topic: string; partition: number; lag: number }[] = [];
    const highWatermarks = new Map<string, number | undefined>();
    for (const [group, offsets] of this.offsets) {
      for (const [key, record] of offsets) {
        const slash = key.lastIndexOf('/');
        const topic = key.slice(0, slash);
        const partition = Number(key.slice(slash + 1));
        if (!highWatermarks.has(key)) {
          const state = await this.metadata.readPartition(topic, partition).catch(() => undefined);
          highWatermarks.set(key, state?.state.highWatermark);
        }
        const hwm = highWatermarks.get(key);
        if (hwm !== undefined && record.offset >= 0)
          out.push({ group, topic, partition, lag: Math.max(0, hwm - record.offset) });
      }
    }
    return out;
  }

  /** Releases every group (graceful shutdown). */
  async shutdown(): Promise<void> {
    await Promise.all([...this.groups.keys()].map((id) => this.drop(id)));
  }
}
