import { randomUUID } from 'node:crypto';
import type { Compare, KeyValue, MetadataStore, Op, Watch, WatchEvent } from './metadata-store.js';
import type {
  BrokerRecord,
  GroupRecord,
  OffsetRecord,
  PartitionStateRecord,
  SegmentRecord,
  TopicRecord,
  UserRecord,
} from './model.js';

/** One partition's share of a multi-partition commit (see ClusterMetadata.commitPartitions). */
export interface PartitionCommit {
  topic: string;
  partition: number;
  /** The revision the partition's key must still have: the fencing compare. */
  expectedRevision: number;
  state: PartitionStateRecord;
  addSegments: SegmentRecord[];
  /** Manifest entries to delete: by base offset, or every entry of a range (one operation). */
  removeSegments?: SegmentRemoval;
}

/** Entries with `from <= baseOffset < to`. */
export interface OffsetRange {
  from: number;
  to: number;
}

/**
 * Manifest entries a commit deletes: a list of base offsets (one etcd operation each) or a range
 * (one operation however many entries it holds, so a compaction of any run length fits in a
 * transaction).
 */
export type SegmentRemoval = readonly number[] | OffsetRange;

function removalOps(removal: SegmentRemoval | undefined): number {
  if (!removal) return 0;
  return 'from' in removal ? 1 : removal.length;
}

/** etcd's default limit of operations in one transaction (`--max-txn-ops`). */
export const MAX_TXN_OPS = 128;

/**
 * The etcd key schema and the broker's view of cluster metadata. Every key lives under
 * `/kafscale/{cluster}/` so several clusters can share one etcd:
 *
 *   topics/{topic}                               TopicRecord
 *   partitions/{topic}/{partition}               PartitionStateRecord (high watermark, producers)
 *   segments/{topic}/{partition}/{baseOffset}    SegmentRecord (the manifest, one key a segment)
 *   brokers/{nodeId}                             BrokerRecord, under the broker's lease
 *   producer-ids/next                            next free producer id
 *   groups/{group}                               GroupRecord (membership of the last rebalance)
 *   offsets/{group}/{topic}/{partition}          OffsetRecord (committed consumer offsets)
 *   users/{name}                                 UserRecord (salted SCRAM credentials, no password)
 *   snapshots/last                               SnapshotStatusRecord (last successful snapshot)
 *
 * Group ids and user names are URI-encoded in keys: unlike topic names they may contain any
 * character.
 *
 * Topics are cached in memory and kept current by a watch, so request handlers look them up
 * synchronously.
 */
export class ClusterMetadata {
  private readonly topicsByName = new Map<string, TopicRecord>();
  private readonly topicsById = new Map<string, TopicRecord>();
  private readonly topicListeners: ((name: string, topic: TopicRecord | undefined) => void)[] = [];
  private watch?: Watch;

  private constructor(
    readonly store: MetadataStore,
    readonly prefix: string,
  ) {}

  static async open(store: MetadataStore, clusterName = 'default'): Promise<ClusterMetadata> {
    const metadata = new ClusterMetadata(store, `/kafscale/${clusterName}/`);
    await metadata.loadTopics();
    return metadata;
  }

  async close(): Promise<void> {
    await this.watch?.cancel();
  }

  // -- keys -----------------------------------------------------------------------------------

  topicKey(name: string): string {
    return `${this.prefix}topics/${name}`;
  }

  partitionKey(topic: string, partition: number): string {
    return `${this.prefix}partitions/${topic}/${partition}`;
  }

  segmentPrefix(topic: string, partition: number): string {
    return `${this.prefix}segments/${topic}/${partition}/`;
  }

  segmentKey(topic: string, partition: number, baseOffset: number): string {
    return `${this.segmentPrefix(topic, partition)}${String(baseOffset).padStart(20, '0')}`;
  }

  brokerKey(nodeId: number): string {
    return `${this.prefix}brokers/${nodeId}`;
  }

  // -- topics ---------------------------------------------------------------------------------

  private async loadTopics(): Promise<void> {
    const topicsPrefix = `${this.prefix}topics/`;
    const kvs = await this.store.getPrefix(topicsPrefix);
    let revision = 0;
    for (const kv of kvs) {
      this.setTopic(kv.key.slice(topicsPrefix.length), JSON.parse(kv.value) as TopicRecord);
      revision = Math.max(revision, kv.modRevision);
    }
    const onEvents = (events: WatchEvent[]) => {
      for (const e of events) {
        const name = e.key.slice(topicsPrefix.length);
        this.setTopic(name, e.type === 'put' ? (JSON.parse(e.value) as TopicRecord) : undefined);
      }
    };
    this.watch = await this.store.watchPrefix(topicsPrefix, onEvents);
    // Changes between the load and the watch start are picked up by a second read.
    for (const kv of await this.store.getPrefix(topicsPrefix)) {
      if (kv.modRevision > revision)
        this.setTopic(kv.key.slice(topicsPrefix.length), JSON.parse(kv.value));
    }
  }

  private setTopic(name: string, topic: TopicRecord | undefined): void {
    const old = this.topicsByName.get(name);
    if (old) this.topicsById.delete(old.id);
    if (topic) {
      this.topicsByName.set(name, topic);
      this.topicsById.set(topic.id, topic);
    } else {
      this.topicsByName.delete(name);
    }
    if (
      old?.id !== topic?.id ||
      old?.partitions !== topic?.partitions ||
      old?.configs !== topic?.configs
    ) {
      for (const listener of this.topicListeners) listener(name, topic);
    }
  }

  /** Called whenever a topic is created, changed or deleted (by this broker or another). */
  onTopicChange(listener: (name: string, topic: TopicRecord | undefined) => void): void {
    this.topicListeners.push(listener);
  }

  topics(): TopicRecord[] {
    return [...this.topicsByName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  topic(name: string): TopicRecord | undefined {
    return this.topicsByName.get(name);
  }

  topicById(id: string): TopicRecord | undefined {
    return this.topicsById.get(id);
  }

  /** Creates a topic and its partitions atomically; resolves undefined if the name is taken. */
  async createTopic(
    name: string,
    partitions: number,
    configs: Record<string, string>,
  ): Promise<TopicRecord | undefined> {
    const topic: TopicRecord = {
      name,
      id: randomUUID(),
      partitions,
      configs,
      createdAt: Date.now(),
    };
    // Partition states first, each only if absent (etcd allows 128 operations a transaction);
    // the topic key, written last, is what makes the topic exist.
    await this.createPartitionStates(name, 0, partitions);
    const result = await this.store.txn(
      [{ key: this.topicKey(name), target: 'createRevision', op: '=', value: 0 }],
      [{ type: 'put', key: this.topicKey(name), value: JSON.stringify(topic) }],
    );
    if (!result.succeeded) return undefined;
    this.setTopic(name, topic);
    return topic;
  }

  private initialPartitionOp(topic: string, partition: number): Op {
    const state: PartitionStateRecord = {
      logStartOffset: 0,
      highWatermark: 0,
      leaderEpoch: 0,
      epochs: [{ epoch: 0, startOffset: 0 }],
      commitId: '',
      producers: [],
    };
    return { type: 'put', key: this.partitionKey(topic, partition), value: JSON.stringify(state) };
  }

  /** Deletes a topic with its partition states and manifests; its objects become garbage. */
  async deleteTopic(name: string): Promise<TopicRecord | undefined> {
    const kv = await this.store.get(this.topicKey(name));
    if (!kv) return undefined;
    const result = await this.store.txn(
      [{ key: this.topicKey(name), target: 'modRevision', op: '=', value: kv.modRevision }],
      [
        { type: 'delete', key: this.topicKey(name) },
        { type: 'deletePrefix', prefix: `${this.prefix}partitions/${name}/` },
        { type: 'deletePrefix', prefix: `${this.prefix}segments/${name}/` },
      ],
    );
    if (!result.succeeded) return this.deleteTopic(name);
    this.setTopic(name, undefined);
    return JSON.parse(kv.value) as TopicRecord;
  }

  /** Applies a change to a topic record with optimistic concurrency; returns the new record. */
  async updateTopic(
    name: string,
    change: (topic: TopicRecord) => TopicRecord,
    extraOps: (topic: TopicRecord) => Op[] = () => [],
  ): Promise<TopicRecord | undefined> {
    for (;;) {
      const kv = await this.store.get(this.topicKey(name));
      if (!kv) return undefined;
      const current = JSON.parse(kv.value) as TopicRecord;
      const next = change(current);
      const result = await this.store.txn(
        [{ key: this.topicKey(name), target: 'modRevision', op: '=', value: kv.modRevision }],
        [
          { type: 'put', key: this.topicKey(name), value: JSON.stringify(next) },
          ...extraOps(current),
        ],
      );
      if (result.succeeded) {
        this.setTopic(name, next);
        return next;
      }
    }
  }

  /** Grows a topic to `total` partitions (never shrinks it, whatever raced this call). */
  async createPartitions(name: string, total: number): Promise<TopicRecord | undefined> {
    const current = this.topic(name)?.partitions ?? 0;
    await this.createPartitionStates(name, current, total);
    return this.updateTopic(name, (t) => ({ ...t, partitions: Math.max(t.partitions, total) }));
  }

  /**
   * Initial states of partitions [from, to), each written only if absent, in transactions small
   * enough for etcd's default limit of 128 operations. A state left by a crash before the topic
   * key was written is the same initial state, so a later attempt simply reuses it.
   */
  private async createPartitionStates(topic: string, from: number, to: number): Promise<void> {
    const CHUNK = 50;
    for (let start = from; start < to; start += CHUNK) {
      const end = Math.min(to, start + CHUNK);
      const ops: Promise<unknown>[] = [];
      for (let p = start; p < end; p++) {
        const key = this.partitionKey(topic, p);
        ops.push(
          this.store.txn(
            [{ key, target: 'createRevision', op: '=', value: 0 }],
            [this.initialPartitionOp(topic, p)],
          ),
        );
      }
      await Promise.all(ops);
    }
  }

  // -- partitions -----------------------------------------------------------------------------

  async readPartition(
    topic: string,
    partition: number,
  ): Promise<{ state: PartitionStateRecord; modRevision: number } | undefined> {
    const kv = await this.store.get(this.partitionKey(topic, partition));
    if (!kv) return undefined;
    return { state: JSON.parse(kv.value) as PartitionStateRecord, modRevision: kv.modRevision };
  }

  async readSegments(topic: string, partition: number): Promise<SegmentRecord[]> {
    const kvs = await this.store.getPrefix(this.segmentPrefix(topic, partition));
    return kvs.map((kv) => JSON.parse(kv.value) as SegmentRecord);
  }

  /**
   * Commits new partition state (and new/removed manifest entries) if nobody else wrote the
   * partition since `expectedRevision`: the fencing compare. Resolves with the new revision,
   * or undefined when the compare failed.
   */
  async commitPartition(
    topic: string,
    partition: number,
    expectedRevision: number,
    state: PartitionStateRecord,
    addSegments: SegmentRecord[],
    removeSegments: SegmentRemoval = [],
  ): Promise<number | undefined> {
    const commit: PartitionCommit = {
      topic,
      partition,
      expectedRevision,
      state,
      addSegments,
      removeSegments,
    };
    const result = await this.store.txn([this.partitionCompare(commit)], this.partitionOps(commit));
    return result.succeeded ? result.revision : undefined;
  }

  /**
   * Commits several partitions in as few transactions as etcd allows (MAX_TXN_OPS operations
   * each), every partition with its own fencing compare. A transaction whose compares do not all
   * hold changes nothing; its partitions are then committed one by one, so one fenced partition
   * never fails the others. Resolves with each commit's new revision, or undefined where that
   * partition's compare failed. Rejects (MetadataUnavailableError) when the outcome is unknown:
   * callers re-read their partitions before retrying.
   */
  async commitPartitions(commits: readonly PartitionCommit[]): Promise<(number | undefined)[]> {
    const results: (number | undefined)[] = new Array<number | undefined>(commits.length);
    const chunks: number[][] = [];
    let chunk: number[] = [];
    let ops = 0;
    for (const [i, c] of commits.entries()) {
      const size = 1 + c.addSegments.length + removalOps(c.removeSegments);
      if (chunk.length > 0 && ops + size > MAX_TXN_OPS) {
        chunks.push(chunk);
        chunk = [];
        ops = 0;
      }
      chunk.push(i);
      ops += size;
    }
    if (chunk.length > 0) chunks.push(chunk);
    await Promise.all(
      chunks.map(async (indexes) => {
        const group = indexes.map((i) => commits[i]);
        if (group.length > 1) {
          const result = await this.store.txn(
            group.map((c) => this.partitionCompare(c)),
            group.flatMap((c) => this.partitionOps(c)),
          );
          if (result.succeeded) {
            for (const i of indexes) results[i] = result.revision;
            return;
          }
        }
        await Promise.all(
          indexes.map(async (i) => {
            const c = commits[i];
            const result = await this.store.txn([this.partitionCompare(c)], this.partitionOps(c));
            results[i] = result.succeeded ? result.revision : undefined;
          }),
        );
      }),
    );
    return results;
  }

  private partitionCompare(c: PartitionCommit): Compare {
    return {
      key: this.partitionKey(c.topic, c.partition),
      target: 'modRevision',
      op: '=',
      value: c.expectedRevision,
    };
  }

  private partitionOps(c: PartitionCommit): Op[] {
    const ops: Op[] = [
      { type: 'put', key: this.partitionKey(c.topic, c.partition), value: JSON.stringify(c.state) },
    ];
    for (const s of c.addSegments) {
      ops.push({
        type: 'put',
        key: this.segmentKey(c.topic, c.partition, s.baseOffset),
        value: JSON.stringify(s),
      });
    }
    const removal = c.removeSegments ?? [];
    if ('from' in removal) {
      if (removal.to > removal.from) {
        ops.push({
          type: 'deleteRange',
          from: this.segmentKey(c.topic, c.partition, removal.from),
          to: this.segmentKey(c.topic, c.partition, removal.to),
        });
      }
    } else {
      for (const base of removal)
        ops.push({ type: 'delete', key: this.segmentKey(c.topic, c.partition, base) });
    }
    return ops;
  }

  /** Every object key a manifest references (segments and their indexes). */
  async referencedObjectKeys(): Promise<Set<string>> {
    const keys = new Set<string>();
    for (const kv of await this.store.getPrefix(`${this.prefix}segments/`)) {
      const segment = JSON.parse(kv.value) as SegmentRecord;
      keys.add(segment.key);
      keys.add(segment.indexKey);
    }
    return keys;
  }

  // -- producer ids ---------------------------------------------------------------------------

  /** Allocates a cluster-unique producer id. */
  async allocateProducerId(): Promise<number> {
    const key = `${this.prefix}producer-ids/next`;
    for (;;) {
      const kv = await this.store.get(key);
      const next = kv ? Number(kv.value) : 1000;
      const result = await this.store.txn(
        [{ key, target: 'modRevision', op: '=', value: kv?.modRevision ?? 0 }],
        [{ type: 'put', key, value: String(next + 1) }],
      );
      if (result.succeeded) return next;
    }
  }

  // -- brokers --------------------------------------------------------------------------------

  brokersPrefix(): string {
    return `${this.prefix}brokers/`;
  }

  async registerBroker(broker: BrokerRecord, lease?: string): Promise<void> {
    await this.store.put(this.brokerKey(broker.nodeId), JSON.stringify(broker), lease);
  }

  /** Registers under `broker.nodeId` only if no live broker holds that id. */
  async claimBroker(broker: BrokerRecord, lease: string): Promise<boolean> {
    const key = this.brokerKey(broker.nodeId);
    const result = await this.store.txn(
      [{ key, target: 'createRevision', op: '=', value: 0 }],
      [{ type: 'put', key, value: JSON.stringify(broker), lease }],
    );
    return result.succeeded;
  }

  // -- leadership -----------------------------------------------------------------------------

  leaderKey(topic: string, partition: number): string {
    return `${this.prefix}leaders/${topic}/${partition}`;
  }

  /**
   * Takes the leadership key of a partition (or a group: any name) under this broker's lease
   * when it is free or held by this broker id (an earlier incarnation). Returns the holder's id
   * when another broker holds it.
   */
  async acquire(
    key: string,
    nodeId: number,
    lease: string,
  ): Promise<{ acquired: boolean; holder?: number }> {
    const value = holderValue(nodeId, lease);
    const free = await this.store.txn(
      [{ key, target: 'createRevision', op: '=', value: 0 }],
      [{ type: 'put', key, value, lease }],
    );
    if (free.succeeded) return { acquired: true };
    const current = await this.store.get(key);
    if (!current) return this.acquire(key, nodeId, lease);
    const holder = (JSON.parse(current.value) as { nodeId: number }).nodeId;
    if (holder !== nodeId || current.lease === lease)
      return { acquired: holder === nodeId, holder };
    const taken = await this.store.txn(
      [{ key, target: 'modRevision', op: '=', value: current.modRevision }],
      [{ type: 'put', key, value, lease }],
    );
    return { acquired: taken.succeeded, holder };
  }

  /** Gives up a leadership key if this broker incarnation still holds it. */
  async release(key: string, nodeId: number, lease: string): Promise<void> {
    await this.store.txn(
      [{ key, target: 'value', op: '=', value: holderValue(nodeId, lease) }],
      [{ type: 'delete', key }],
    );
  }

  coordinatorKey(groupId: string): string {
    return `${this.prefix}coordinators/${encodeURIComponent(groupId)}`;
  }

  async brokers(): Promise<BrokerRecord[]> {
    const kvs = await this.store.getPrefix(`${this.prefix}brokers/`);
    return kvs
      .map((kv) => JSON.parse(kv.value) as BrokerRecord)
      .sort((a, b) => a.nodeId - b.nodeId);
  }

  // -- consumer groups ------------------------------------------------------------------------

  groupKey(groupId: string): string {
    return `${this.prefix}groups/${encodeURIComponent(groupId)}`;
  }

  private offsetsPrefix(groupId: string): string {
    return `${this.prefix}offsets/${encodeURIComponent(groupId)}/`;
  }

  private offsetKey(groupId: string, topic: string, partition: number): string {
    return `${this.offsetsPrefix(groupId)}${topic}/${partition}`;
  }

  async loadGroup(
    groupId: string,
  ): Promise<{ group?: GroupRecord; offsets: Map<string, OffsetRecord> }> {
    const [kv, offsetKvs] = await Promise.all([
      this.store.get(this.groupKey(groupId)),
      this.store.getPrefix(this.offsetsPrefix(groupId)),
    ]);
    const offsets = new Map<string, OffsetRecord>();
    const prefix = this.offsetsPrefix(groupId);
    for (const o of offsetKvs)
      offsets.set(o.key.slice(prefix.length), JSON.parse(o.value) as OffsetRecord);
    return { group: kv ? (JSON.parse(kv.value) as GroupRecord) : undefined, offsets };
  }

  /**
   * Group writes carry the coordinator's fence: they apply only while the writer still holds the
   * group's coordinator key. Each returns false when the fence failed.
   */
  async saveGroup(group: GroupRecord, fence: Compare[] = []): Promise<boolean> {
    const result = await this.store.txn(fence, [
      { type: 'put', key: this.groupKey(group.groupId), value: JSON.stringify(group) },
    ]);
    return result.succeeded;
  }

  /** Stores offsets of one group atomically. Keys of the map are "topic/partition". */
  async commitOffsets(
    groupId: string,
    offsets: { topic: string; partition: number; record: OffsetRecord }[],
    fence: Compare[] = [],
  ): Promise<boolean> {
    if (offsets.length === 0) return true;
    const result = await this.store.txn(
      fence,
      offsets.map((o) => ({
        type: 'put' as const,
        key: this.offsetKey(groupId, o.topic, o.partition),
        value: JSON.stringify(o.record),
      })),
    );
    return result.succeeded;
  }

  async deleteOffsets(
    groupId: string,
    partitions: { topic: string; partition: number }[],
    fence: Compare[] = [],
  ): Promise<boolean> {
    if (partitions.length === 0) return true;
    const result = await this.store.txn(
      fence,
      partitions.map((p) => ({
        type: 'delete' as const,
        key: this.offsetKey(groupId, p.topic, p.partition),
      })),
    );
    return result.succeeded;
  }

  /** Deletes a group's record and all its committed offsets. */
  async deleteGroup(groupId: string, fence: Compare[] = []): Promise<boolean> {
    const result = await this.store.txn(fence, [
      { type: 'delete', key: this.groupKey(groupId) },
      { type: 'deletePrefix', prefix: this.offsetsPrefix(groupId) },
    ]);
    return result.succeeded;
  }

  /** Ids of every group with a record or committed offsets. */
  async groupIds(): Promise<string[]> {
    const [groups, offsets] = await Promise.all([
      this.store.getPrefix(`${this.prefix}groups/`),
      this.store.getPrefix(`${this.prefix}offsets/`),
    ]);
    const ids = new Set<string>();
    for (const g of groups)
      ids.add(decodeURIComponent(g.key.slice(`${this.prefix}groups/`.length)));
    for (const o of offsets) {
      ids.add(decodeURIComponent(o.key.slice(`${this.prefix}offsets/`.length).split('/')[0]));
    }
    return [...ids].sort();
  }

  /** Removes the committed offsets of a deleted topic from every group. */
  async deleteTopicOffsets(topic: string): Promise<void> {
    const offsets = await this.store.getPrefix(`${this.prefix}offsets/`);
    const ops: Op[] = [];
    for (const o of offsets) {
      const [, t] = o.key.slice(`${this.prefix}offsets/`.length).split('/');
      if (t === topic) ops.push({ type: 'delete', key: o.key });
    }
    for (let i = 0; i < ops.length; i += 100) await this.store.txn([], ops.slice(i, i + 100));
  }

  // -- metadata snapshots (`kafscale snapshot`) -------------------------------------------------

  /** Where the last successful snapshot is recorded (read by the operator and for metrics). */
  snapshotStatusKey(): string {
    return `${this.prefix}snapshots/last`;
  }

  /**
   * Every key of the cluster, in key order, from one read: the etcd store pages a prefix read at
   * the revision of its first page, so this is one consistent view of the cluster.
   */
  async readAll(): Promise<KeyValue[]> {
    return this.store.getPrefix(this.prefix);
  }

  async recordSnapshot(status: SnapshotStatusRecord): Promise<void> {
    await this.store.put(this.snapshotStatusKey(), JSON.stringify(status));
  }

  async lastSnapshot(): Promise<SnapshotStatusRecord | undefined> {
    const kv = await this.store.get(this.snapshotStatusKey());
    return kv ? (JSON.parse(kv.value) as SnapshotStatusRecord) : undefined;
  }
}

/** The value of snapshots/last: the newest snapshot `kafscale snapshot create` completed. */
export interface SnapshotStatusRecord {
  bucket: string;
  /** Object key of the snapshot document; its checksum is at `${key}.sha256`. */
  key: string;
  sha256: string;
  /** Completion time, ms since the epoch. */
  completedAt: number;
  /** Highest modRevision among the keys in the snapshot. */
  revision: number;
  keys: number;
}

// -- SASL users (salted SCRAM credentials; plaintext passwords are never stored) -------------

/** The users/{name} keys, read per authentication so added or deleted users apply at once. */
export class UserStore {
  constructor(private readonly metadata: ClusterMetadata) {}

  private get prefix(): string {
    return `${this.metadata.prefix}users/`;
  }

  key(name: string): string {
    return `${this.prefix}${encodeURIComponent(name)}`;
  }

  async get(name: string): Promise<UserRecord | undefined> {
    const kv = await this.metadata.store.get(this.key(name));
    return kv ? (JSON.parse(kv.value) as UserRecord) : undefined;
  }

  /** Creates or replaces a user; resolves true when the user did not exist before. */
  async put(user: UserRecord): Promise<boolean> {
    const key = this.key(user.name);
    const result = await this.metadata.store.txn(
      [{ key, target: 'createRevision', op: '=', value: 0 }],
      [{ type: 'put', key, value: JSON.stringify(user) }],
      [{ type: 'put', key, value: JSON.stringify(user) }],
    );
    return result.succeeded;
  }

  /** Resolves false when there was no such user. */
  async delete(name: string): Promise<boolean> {
    const key = this.key(name);
    const result = await this.metadata.store.txn(
      [{ key, target: 'createRevision', op: '>', value: 0 }],
      [{ type: 'delete', key }],
    );
    return result.succeeded;
  }

  async list(): Promise<UserRecord[]> {
    const kvs = await this.metadata.store.getPrefix(this.prefix);
    return kvs
      .map((kv) => JSON.parse(kv.value) as UserRecord)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}

/** The value of a leadership key: the holder and its lease, unique to one broker incarnation. */
export function holderValue(nodeId: number, lease: string): string {
  return JSON.stringify({ nodeId, lease });
}
