import type { BrokerContext } from '../broker-context.js';
import type { SyncGroupRequest, SyncGroupResponse } from '../protocol/generated/index.js';
import { ErrorCode } from '../protocol/error-codes.js';
import type { Handler } from './handler.js';
import { lookupGroup } from './group-lookup.js';

/** SyncGroup v0-5: the leader's assignments reach every member. */
export function syncGroupHandler(
  broker: BrokerContext,
): Handler<SyncGroupRequest, SyncGroupResponse> {
  return {
    apiKey: 14,
    minVersion: 0,
    maxVersion: 5,
    async handle(request, ctx) {
      const v = ctx.apiVersion;
      if (request.groupId === '') {
        return {
          throttleTimeMs: 0,
          errorCode: ErrorCode.INVALID_GROUP_ID,
          assignment: Buffer.alloc(0),
        };
      }
      const group = await lookupGroup(broker, request.groupId);
      if (typeof group === 'number') {
        return { throttleTimeMs: 0, errorCode: group, assignment: Buffer.alloc(0) };
      }
      const result = await group.sync(
        request.memberId,
        v >= 3 ? (request.groupInstanceId ?? null) : null,
        request.generationId,
        v >= 5 ? (request.protocolType ?? null) : null,
        v >= 5 ? (request.protocolName ?? null) : null,
        request.assignments,
      );
      return {
        throttleTimeMs: 0,
        errorCode: result.errorCode,
        protocolType: v >= 5 ? result.protocolType : undefined,
        protocolName: v >= 5 ? result.protocolName : undefined,
        assignment: result.assignment,
      };
    },
  };
}
