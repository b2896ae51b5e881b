import type { KubeConfig } from '@kubernetes/client-node';
import { ClusterMetadata } from '../../../broker/src/metadata/cluster-metadata.js';
import { EtcdMetadataStore } from '../../../broker/src/metadata/etcd-metadata-store.js';
import type { KafScaleCluster, KafScaleTopic, KafScaleTopicStatus } from '../api/v1alpha1.js';
import { etcdEndpoints } from '../builders/broker-env.js';
import { metadataClusterName } from '../builders/metadata.js';
import type { BuildOptions } from '../builders/options.js';
import type { ReconcileResult } from '../runtime/work-queue.js';
import { setCondition } from './conditions.js';
import type { EventRecorder } from './events.js';
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

  constructor(private readonly options: TopicReconcilerOptions) {
    this.resources = new CustomResources(options.kubeConfig);
    this.now = options.now ?? (() => new Date());
  }

  readonly reconcile = async (key: string): Promise<ReconcileResult | void> => {
    const { namespace, name } = splitKey(key);
    let topic = await this.resources.get(TOPICS, namespace, name);
    if (!topic || isPaused(topic)) return;
    const cluster = await this.resources.get(CLUSTERS, namespace, topic.spec.clusterRef.name);
    if (topic.metadata.deletionTimestamp) return this.finalize(topic, cluster);

    if (!(topic.metadata.finalizers ?? []).includes(TOPIC_FINALIZER)) {
      topic.metadata.finalizers = [...(topic.metadata.finalizers ?? []), TOPIC_FINALIZER];
      topic = await this.resources.replace(TOPICS, topic);
    }
    const topicName = topic.spec.topicName ?? topic.metadata.name;
    if (!cluster) {
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

    let metadata: ClusterMetadata;
    try {
      metadata = await this.open(cluster);
    } catch (error) {
      await this.writeStatus(topic, {
        phase: 'Error',
        ready: ['False', 'EtcdUnavailable', `etcd unreachable: ${(error as Error).message}`],
      });
      throw error;
    }
    try {
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
      for (let p = 0; p < record.partitions; p++) {
        const state = (await metadata.readPartition(topicName, p))?.state;
        partitionStatus.push({
          partition: p,
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
    } finally {
      await metadata.close();
      await metadata.store.close();
    }
  };

  private async open(cluster: KafScaleCluster): Promise<ClusterMetadata> {
    const timeout = this.options.etcdTimeoutMs ?? 5000;
    const store = new EtcdMetadataStore({
      endpoints: etcdEndpoints(cluster, this.options.build),
      requestTimeoutMs: timeout,
      dialTimeoutMs: timeout,
    });
    try {
      return await ClusterMetadata.open(store, metadataClusterName(cluster));
    } catch (error) {
      await store.close();
      throw error;
    }
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
      const metadata = await this.open(cluster);
      try {
        await metadata.deleteTopic(topicName);
      } finally {
        await metadata.close();
        await metadata.store.close();
      }
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
