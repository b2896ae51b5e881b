import type { BrokerContext } from '../broker-context.js';
import type {
  MetadataRequest,
  MetadataResponse,
  MetadataResponseTopic,
} from '../protocol/generated/index.js';
import { ErrorCode } from '../protocol/error-codes.js';
import type { TopicRecord } from '../metadata/model.js';
import type { Handler } from './handler.js';
import { isValidTopicName } from './topic-names.js';

const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

export function metadataHandler(broker: BrokerContext): Handler<MetadataRequest, MetadataResponse> {
  const { metadata, logs, config } = broker;

  const topicResponse = (topic: TopicRecord): MetadataResponseTopic => ({
    errorCode: ErrorCode.NONE,
    name: topic.name,
    topicId: topic.id,
    isInternal: false,
    partitions: Array.from({ length: topic.partitions }, (_, p) => {
      // Placement decides the leader; storage is shared, so the leader is the only replica.
      const leaderId = logs.leaderOf(topic.name, p) ?? -1;
      return {
        errorCode: leaderId < 0 ? ErrorCode.LEADER_NOT_AVAILABLE : ErrorCode.NONE,
        partitionIndex: p,
        leaderId,
        // The epoch of the open log; -1 (unknown) when another broker leads or before first use.
        leaderEpoch: logs.peek(topic.name, p)?.leaderEpoch ?? -1,
        replicaNodes: leaderId < 0 ? [] : [leaderId],
        isrNodes: leaderId < 0 ? [] : [leaderId],
        offlineReplicas: [],
      };
    }),
    topicAuthorizedOperations: -2147483648,
  });

  const missing = (
    name: string | null,
    id: string | undefined,
    errorCode: number,
  ): MetadataResponseTopic => ({
    errorCode,
    name,
    topicId: id ?? ZERO_UUID,
    isInternal: false,
    partitions: [],
  });

  return {
    apiKey: 3,
    minVersion: 0,
    maxVersion: 12,
    async handle(request, ctx) {
      const v = ctx.apiVersion;
      // v0: an empty list means all topics; v1+: null means all, [] means none.
      const all = request.topics == null || (v === 0 && request.topics.length === 0);
      const topics: MetadataResponseTopic[] = [];
      if (all) {
        for (const t of metadata.topics()) topics.push(topicResponse(t));
      } else {
        const allowCreate =
          config.autoCreateTopics && (v < 4 || request.allowAutoTopicCreation !== false);
        for (const requested of request.topics ?? []) {
          const byId =
            requested.topicId && requested.topicId !== ZERO_UUID ? requested.topicId : undefined;
          if (byId) {
            const t = metadata.topicById(byId);
            topics.push(t ? topicResponse(t) : missing(null, byId, ErrorCode.UNKNOWN_TOPIC_ID));
            continue;
          }
          const name = requested.name ?? '';
          let t = metadata.topic(name);
          if (!t && !isValidTopicName(name)) {
            topics.push(missing(name, undefined, ErrorCode.INVALID_TOPIC_EXCEPTION));
            continue;
          }
          if (!t && allowCreate) {
            t =
              (await metadata.createTopic(name, config.autoCreatePartitions, {})) ??
              metadata.topic(name);
            if (t)
              broker.logger.info('topic auto-created', {
                topic: name,
                partitions: t.partitions,
                client: ctx.clientId,
              });
          }
          topics.push(
            t ? topicResponse(t) : missing(name, undefined, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION),
          );
        }
      }
      const brokers = broker.membership.brokers();
      return {
        throttleTimeMs: 0,
        brokers: brokers.map((b) => ({
          nodeId: b.nodeId,
          host: b.host,
          port: b.port,
          rack: b.rack,
        })),
        clusterId: broker.clusterId,
        controllerId: Math.min(...brokers.map((b) => b.nodeId)),
        topics,
        clusterAuthorizedOperations: v >= 8 && v <= 10 ? -2147483648 : undefined,
      };
    },
  };
}
