import type { KubeConfig } from '@kubernetes/client-node';
import type { ClusterMetadata } from '../../../broker/src/metadata/cluster-metadata.js';
import type { KafScaleCluster, KafScaleTopic, KafScaleTopicStatus } from '../api/v1alpha1.js';
import { etcdEndpoints } from '../builders/broker-env.js';
import { metadataClusterName } from '../builders/metadata.js';
import type { BuildOptions } from '../builders/options.js';
import type { ReconcileResult } from '../runtime/work-queue.js';
import { invalidSpecCondition, topicValidator } from '../schema/index.js';
import { getCondition, setCondition } from './conditions.js';
import type { EventRecorder } from './events.js';
import { MetadataConnections } from './metadata-connections.js';
import { CLUSTERS, CustomResources, isPaused, sameJson, splitKey, TOPICS } from './resources.js';

export const TOPIC_FINALIZER = 'kafscale.io/topic';

export interface TopicReconcilerOptions {
  kubeConfig: KubeConfig;
  build: BuildOptions;
  events: EventRecorder;
  /** How long a deleted topic waits for an unreachable etcd before its finalizer goes anyway. */
  etcdGraceMs?: number;
  /** Per-request etcd timeout. */
  etcdTimeoutMs?: number;
  now?: () => Date;
}

/** The topic's configs in etcd: spec.config plus retention.ms / retention.bytes. */
export function desiredConfigs(spec: KafScaleTopic['spec']): Record<string, string> {
  const configs: Record<string, string> = { ...(spec.config ?? {}) };
  if (spec.retentionMs !== undefined) configs['retention.ms'] = String(spec.retentionMs);
  if (spec.retentionBytes !== undefined) configs['retention.bytes'] = String(spec.retentionBytes);
  return configs;
}

/**
 * Writes each KafScaleTopic into its cluster's etcd through the broker's metadata library:
 * creates the topic, grows partitions, updates configs; refuses to shrink. The finalizer deletes
 * the topic with the resource, and never blocks deletion when the cluster is gone or etcd stays
 * unreachable.
 */
export class TopicReconciler {
  private readonly resources: CustomResources;
  private readonly now: () => Date;
  private readonly connections: MetadataConnections;

  constructor(private readonly options: TopicReconcilerOptions) {
    this.resources = new CustomResources(options.kubeConfig);
    this.now = options.now ?? (() => new Date());
    this.connections = new MetadataConnections(options.etcdTimeoutMs ?? 5000);
  }

  /** Whether a metadata connection to the cluster `namespace/name` is open (for tests). */
  hasConnection(clusterKey: string): boolean {
    return this.connections.has(clusterKey);
  }

  /** Closes the cached connection of a cluster that was deleted. */
  forgetCluster(clusterKey: string): Promise<void> {
    return this.connections.close(clusterKey);
  }

  /** Closes every cached connection (operator stop). */
  close(): Promise<void> {
    return this.connections.closeAll();
  }

  readonly reconcile = async (key: string): Promise<ReconcileResult | void> => {
    const { namespace, name } = splitKey(key);
    const stored = await this.resources.get(TOPICS, namespace, name);
    if (!stored || isPaused(stored)) return;
    const checked = topicValidator().validate(stored);
    if (checked.valid && typeof stored.spec?.clusterRef !== 'object') {
      checked.valid = false;
      checked.issues.push({ path: 'spec.clusterRef', message: 'Required value' });
    }
    if (!checked.valid) {
      // Nothing can be deleted for a topic whose cluster or name cannot be known.
      if (stored.metadata.deletionTimestamp) return this.removeFinalizer(stored);
      const condition = invalidSpecCondition(
        checked.issues,
        stored.metadata.generation,
        this.now(),
      );
      const old = getCondition(stored.status?.conditions, 'Ready');
      if (old?.reason !== 'InvalidSpec' || old.message !== condition.message) {
        await this.options.events.record(stored, 'Warning', 'InvalidSpec', condition.message);
      }
      await this.writeStatus(stored, {
        phase: 'Invalid',
        ready: [condition.status, condition.reason, condition.message],
      });
      return;
    }
    let topic = checked.object;
    const cluster = await this.resources.get(CLUSTERS, namespace, topic.spec.clusterRef.name);
    if (topic.metadata.deletionTimestamp) return this.finalize(topic, cluster);

    if (!(topic.metadata.finalizers ?? []).includes(TOPIC_FINALIZER)) {
      topic.metadata.finalizers = [...(topic.metadata.finalizers ?? []), TOPIC_FINALIZER];
      topic = await this.resources.replace(TOPICS, topic);
    }
    const topicName = topic.spec.topicName ?? topic.metadata.name;
    if (!cluster) {
      await this.connections.close(`${namespace}/${topic.spec.clusterRef.name}`);
      await this.writeStatus(topic, {
        phase: 'Pending',
        ready: [
          'False',
          'ClusterNotFound',
          `KafScaleCluster ${topic.spec.clusterRef.name} not found`,
        ],
      });
      return { requeueAfterMs: 30_000 };
    }

    try {
      await this.sync(topic, topicName, await this.open(cluster));
    } catch (error) {
      await this.writeStatus(topic, {
        phase: 'Error',
        ready: ['False', 'EtcdUnavailable', `etcd unreachable: ${(error as Error).message}`],
      }).catch(() => undefined);
      throw error;
    }
  };

  private async sync(
    topic: KafScaleTopic,
    topicName: string,
    metadata: ClusterMetadata,
  ): Promise<void> {
    const configs = desiredConfigs(topic.spec);
    let record = metadata.topic(topicName);
    let ready: [string, string, string] = ['True', 'TopicReady', 'topic is in etcd'];
    if (!record) {
      record = await metadata.createTopic(topicName, topic.spec.partitions, configs);
      if (!record) throw new Error(`topic ${topicName} was created concurrently; retrying`);
      await this.options.events.record(
        topic,
        'Normal',
        'TopicCreated',
        `created topic ${topicName} with ${topic.spec.partitions} partitions`,
      );
    } else {
      if (topic.spec.partitions < record.partitions) {
        ready = [
          'False',
          'PartitionsCannotShrink',
          `spec.partitions ${topic.spec.partitions} is below the topic's ${record.partitions} partitions; partitions can only grow`,
        ];
      } else if (topic.spec.partitions > record.partitions) {
        const from = record.partitions;
        record = (await metadata.createPartitions(topicName, topic.spec.partitions)) ?? record;
        await this.options.events.record(
          topic,
          'Normal',
          'PartitionsGrown',
          `grew topic ${topicName} from ${from} to ${record.partitions} partitions`,
        );
      }
      if (!sameJson(record.configs, configs)) {
        record = (await metadata.updateTopic(topicName, (t) => ({ ...t, configs }))) ?? record;
      }
    }
    const partitionStatus: NonNullable<KafScaleTopicStatus['partitionStatus']> = [];
    const leaders = await this.leaders(metadata, topicName);
    for (let p = 0; p < record.partitions; p++) {
      const state = (await metadata.readPartition(topicName, p))?.state;
      partitionStatus.push({
        partition: p,
        leader: leaders.get(p) ?? -1,
        logStartOffset: state?.logStartOffset ?? 0,
        highWatermark: state?.highWatermark ?? 0,
      });
    }
    await this.writeStatus(topic, {
      phase: ready[0] === 'True' ? 'Ready' : 'Invalid',
      ready,
      topicName,
      partitions: record.partitions,
      partitionStatus,
    });
  }

  private open(cluster: KafScaleCluster): Promise<ClusterMetadata> {
    return this.connections.get(
      `${cluster.metadata.namespace}/${cluster.metadata.name}`,
      metadataClusterName(cluster),
      etcdEndpoints(cluster, this.options.build),
    );
  }

  /** Partition -> broker id of the leaders the brokers hold now (their lease-bound keys). */
  private async leaders(metadata: ClusterMetadata, topic: string): Promise<Map<number, number>> {
    const prefix = metadata.leaderKey(topic, 0).replace(/0$/, '');
    const leaders = new Map<number, number>();
    for (const kv of await metadata.store.getPrefix(prefix)) {
      const partition = Number(kv.key.slice(prefix.length));
      const holder = JSON.parse(kv.value) as { nodeId?: number };
      if (Number.isInteger(partition) && typeof holder.nodeId === 'number') {
        leaders.set(partition, holder.nodeId);
      }
    }
    return leaders;
  }

  private async finalize(
    topic: KafScaleTopic,
    cluster: KafScaleCluster | undefined,
  ): Promise<ReconcileResult | void> {
    if (!(topic.metadata.finalizers ?? []).includes(TOPIC_FINALIZER)) return;
    const topicName = topic.spec.topicName ?? topic.metadata.name;
    if (!cluster) {
      await this.options.events.record(
        topic,
        'Warning',
        'ClusterGone',
        `KafScaleCluster ${topic.spec.clusterRef.name} is gone; topic ${topicName} not deleted from etcd`,
      );
      return this.removeFinalizer(topic);
    }
    try {
      await (await this.open(cluster)).deleteTopic(topicName);
    } catch (error) {
      const since = Date.parse(String(topic.metadata.deletionTimestamp));
      const grace = this.options.etcdGraceMs ?? 30_000;
      if (this.now().getTime() - since < grace) throw error;
      await this.options.events.record(
        topic,
        'Warning',
        'EtcdUnreachable',
        `etcd unreachable for ${Math.round(grace / 1000)} s; topic ${topicName} not deleted: ${(error as Error).message}`,
      );
    }
    return this.removeFinalizer(topic);
  }

  private async removeFinalizer(topic: KafScaleTopic): Promise<void> {
    if (!(topic.metadata.finalizers ?? []).includes(TOPIC_FINALIZER)) return;
    topic.metadata.finalizers = (topic.metadata.finalizers ?? []).filter(
      (f) => f !== TOPIC_FINALIZER,
    );
    await this.resources.replace(TOPICS, topic);
  }

  private async writeStatus(
    topic: KafScaleTopic,
    s: {
      phase: KafScaleTopicStatus['phase'];
      ready: [string, string, string];
      topicName?: string;
      partitions?: number;
      partitionStatus?: KafScaleTopicStatus['partitionStatus'];
    },
  ): Promise<void> {
    const previous = topic.status ?? {};
    const status: KafScaleTopicStatus = {
      ...previous,
      observedGeneration: topic.metadata.generation,
      phase: s.phase,
      ...(s.topicName !== undefined ? { topicName: s.topicName } : {}),
      ...(s.partitions !== undefined ? { partitions: s.partitions } : {}),
      ...(s.partitionStatus !== undefined ? { partitionStatus: s.partitionStatus } : {}),
      conditions: setCondition(
        previous.conditions,
        {
          type: 'Ready',
          status: s.ready[0] as 'True' | 'False',
          reason: s.ready[1],
          message: s.ready[2],
          observedGeneration: topic.metadata.generation,
        },
        this.now(),
      ),
    };
    if (sameJson(status, previous)) return;
    await this.resources.replaceStatus(TOPICS, { ...topic, status });
  }
}
