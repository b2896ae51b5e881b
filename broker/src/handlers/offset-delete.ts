import type { BrokerContext } from '../broker-context.js';
import type { OffsetDeleteRequest, OffsetDeleteResponse } from '../protocol/generated/index.js';
import { ErrorCode } from '../protocol/error-codes.js';
import type { Handler } from './handler.js';
import { lookupExistingGroup } from './group-lookup.js';

const GROUP_SUBSCRIBED_TO_TOPIC = 86;

/** OffsetDelete v0: removes committed offsets the group no longer consumes. */
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
      // Offsets of an active group may be in use: only an empty group's offsets are deleted.
      const active = group.state !== 'Empty';
      const toDelete: { topic: string; partition: number }[] = [];
      const topics = request.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => {
          if (active)
            return { partitionIndex: p.partitionIndex, errorCode: GROUP_SUBSCRIBED_TO_TOPIC };
          toDelete.push({ topic: t.name, partition: p.partitionIndex });
          return { partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE };
        }),
      }));
      await broker.groups.deleteOffsets(request.groupId, toDelete);
      return { errorCode: ErrorCode.NONE, throttleTimeMs: 0, topics };
    },
  };
}
