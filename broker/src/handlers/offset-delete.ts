import type { BrokerContext } from '../broker-context.js';
import type { OffsetDeleteRequest, OffsetDeleteResponse } from '../protocol/generated/index.js';
import { ErrorCode } from '../protocol/error-codes.js';
import type { Handler } from './handler.js';
import { subscribedTopics } from '../groups/subscriptions.js';
import { lookupExistingGroup } from './group-lookup.js';

const GROUP_SUBSCRIBED_TO_TOPIC = 86;

/** OffsetDelete v0: removes committed offsets the group does not consume. */
export function offsetDeleteHandler(
  broker: BrokerContext,
): Handler<OffsetDeleteRequest, OffsetDeleteResponse> {
  return {
    apiKey: 47,
    minVersion: 0,
    maxVersion: 0,
    async handle(request) {
      const group = await lookupExistingGroup(broker, request.groupId);
      if (typeof group === 'number') return { errorCode: group, throttleTimeMs: 0, topics: [] };
      if (!group) return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, throttleTimeMs: 0, topics: [] };
      // Offsets of topics an active consumer group subscribes to are in use (Kafka's rule);
      // an active group of another protocol cannot have offsets deleted at all.
      const subscribed = new Set<string>();
      if (group.state !== 'Empty') {
        if (group.protocolType !== 'consumer') {
          return { errorCode: ErrorCode.NON_EMPTY_GROUP, throttleTimeMs: 0, topics: [] };
        }
        for (const m of group.describeMembers()) {
          for (const t of subscribedTopics(m.memberMetadata) ?? []) subscribed.add(t);
        }
      }
      const toDelete: { topic: string; partition: number }[] = [];
      const topics = request.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => {
          if (subscribed.has(t.name)) {
            return { partitionIndex: p.partitionIndex, errorCode: GROUP_SUBSCRIBED_TO_TOPIC };
          }
          toDelete.push({ topic: t.name, partition: p.partitionIndex });
          return { partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE };
        }),
      }));
      await broker.groups.deleteOffsets(request.groupId, toDelete);
      return { errorCode: ErrorCode.NONE, throttleTimeMs: 0, topics };
    },
  };
}
