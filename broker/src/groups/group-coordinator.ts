import type { ClusterMetadata } from '../metadata/cluster-metadata.js';
import type { OffsetRecord } from '../metadata/model.js';
import type { Logger } from '../logger.js';
import { ConsumerGroup } from './consumer-group.js';

export interface GroupCoordinatorOptions {
  initialRebalanceDelayMs: number;
}

/**
 * The groups this broker coordinates: membership in memory (persisted after each rebalance),
 * committed offsets in the metadata store with an in-memory copy. Groups are loaded from the
 * store on first use, so a coordinator that takes over (or restarts) continues where the last
 * one stopped.
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
    private readonly options: GroupCoordinatorOptions,
  ) {
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

  /** The group, loaded from the store if needed; a new empty group if it never existed. */
  async group(groupId: string): Promise<ConsumerGroup> {
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
    this.chain(group.groupId, () => this.metadata.saveGroup(record)).catch((err: unknown) => {
      this.logger.warn('saving group membership failed', {
        group: group.groupId,
        err: String(err),
      });
    });
  }

  offsetsOf(groupId: string): ReadonlyMap<string, OffsetRecord> {
    return this.offsets.get(groupId) ?? new Map();
  }

  async commitOffsets(
    groupId: string,
    entries: { topic: string; partition: number; record: OffsetRecord }[],
  ): Promise<void> {
    await this.chain(groupId, () => this.metadata.commitOffsets(groupId, entries));
    let offsets = this.offsets.get(groupId);
    if (!offsets) this.offsets.set(groupId, (offsets = new Map()));
    for (const e of entries) offsets.set(`${e.topic}/${e.partition}`, e.record);
  }

  async deleteOffsets(
    groupId: string,
    partitions: { topic: string; partition: number }[],
  ): Promise<void> {
    await this.chain(groupId, () => this.metadata.deleteOffsets(groupId, partitions));
    const offsets = this.offsets.get(groupId);
    for (const p of partitions) offsets?.delete(`${p.topic}/${p.partition}`);
  }

  async deleteGroup(groupId: string): Promise<void> {
    await this.chain(groupId, () => this.metadata.deleteGroup(groupId));
    this.groups.get(groupId)?.kill();
    this.groups.delete(groupId);
    this.offsets.delete(groupId);
  }

  /** Every group in memory or in the store. */
  async allGroups(): Promise<ConsumerGroup[]> {
    const ids = new Set([...this.groups.keys(), ...(await this.metadata.groupIds())]);
    const groups = await Promise.all([...ids].map((id) => this.existingGroup(id)));
    return groups.filter((g): g is ConsumerGroup => g !== undefined && g.state !== 'Dead');
  }

  shutdown(): void {
    for (const g of this.groups.values()) g.kill();
    this.groups.clear();
  }
}
