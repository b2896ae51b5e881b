import type { BrokerContext } from '../broker-context.js';
import type { OffsetCommitRequest, OffsetCommitResponse } from '../protocol/generated/index.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { MetadataUnavailableError } from '../metadata/metadata-store.js';
import { errorCodeOf } from '../log/kafka-error.js';
import type { OffsetRecord } from '../metadata/model.js';
import type { Handler } from './handler.js';
import { lookupGroup } from './group-lookup.js';

const MAX_METADATA_BYTES = 4096;
const OFFSET_METADATA_TOO_LARGE = 12;

/**
 * OffsetCommit v0-9. Members of an active group must be current (member id and generation);
 * standalone consumers (generation -1, no member id) may commit to a group with no members.
 */
export function offsetCommitHandler(
  broker: BrokerContext,
): Handler<OffsetCommitRequest, OffsetCommitResponse> {
  return {
    apiKey: 8,
    minVersion: 0,
    maxVersion: 9,
    async handle(request, ctx) {
      const v = ctx.apiVersion;
      const respond = (
        codeFor: (topic: string, partition: number) => number,
      ): OffsetCommitResponse => ({
        throttleTimeMs: 0,
        topics: request.topics.map((t) => ({
          name: t.name,
          partitions: t.partitions.map((p) => ({
            partitionIndex: p.partitionIndex,
            errorCode: codeFor(t.name, p.partitionIndex),
          })),
        })),
      });
      if (request.groupId === '') return respond(() => ErrorCode.INVALID_GROUP_ID);
      const group = await lookupGroup(broker, request.groupId);
      if (typeof group === 'number') return respond(() => group);
      const generation = v >= 1 ? (request.generationIdOrMemberEpoch ?? -1) : -1;
      const memberId = v >= 1 ? (request.memberId ?? '') : '';
      const instanceId = v >= 7 ? (request.groupInstanceId ?? null) : null;

      let groupError: number = ErrorCode.NONE;
      if (generation < 0 && memberId === '') {
        // A standalone commit is only allowed while the group has no members (Kafka's rule).
        if (group.size > 0) groupError = ErrorCode.UNKNOWN_MEMBER_ID;
      } else {
        groupError = group.validateMember(memberId, instanceId, generation);
        if (groupError === ErrorCode.NONE && group.state === 'CompletingRebalance')
          groupError = ErrorCode.REBALANCE_IN_PROGRESS;
      }
      if (groupError !== ErrorCode.NONE) return respond(() => groupError);

      const errors = new Map<string, number>();
      const entries: { topic: string; partition: number; record: OffsetRecord }[] = [];
      const now = Date.now();
      for (const t of request.topics) {
        const topic = broker.metadata.topic(t.name);
        for (const p of t.partitions) {
          const key = `${t.name}/${p.partitionIndex}`;
          if (!topic || p.partitionIndex < 0 || p.partitionIndex >= topic.partitions) {
            errors.set(key, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
          } else if (
            p.committedMetadata &&
            Buffer.byteLength(p.committedMetadata) > MAX_METADATA_BYTES
          ) {
            errors.set(key, OFFSET_METADATA_TOO_LARGE);
          } else {
            entries.push({
              topic: t.name,
              partition: p.partitionIndex,
              record: {
                offset: p.committedOffset,
                leaderEpoch: p.committedLeaderEpoch ?? -1,
                metadata: p.committedMetadata ?? null,
                commitTimestamp: now,
              },
            });
          }
        }
      }
      try {
        await broker.groups.commitOffsets(request.groupId, entries);
      } catch (err) {
        // Unreachable store: retriable; lost the group to another coordinator: NOT_COORDINATOR.
        const code =
          err instanceof MetadataUnavailableError
            ? ErrorCode.REQUEST_TIMED_OUT
            : errorCodeOf(err, ErrorCode.UNKNOWN_SERVER_ERROR);
        if (code === ErrorCode.UNKNOWN_SERVER_ERROR) throw err;
        for (const e of entries) errors.set(`${e.topic}/${e.partition}`, code);
      }
      return respond((topic, partition) => errors.get(`${topic}/${partition}`) ?? ErrorCode.NONE);
    },
  };
}
