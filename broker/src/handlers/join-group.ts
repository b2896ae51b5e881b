import type { BrokerContext } from '../broker-context.js';
import type { JoinGroupRequest, JoinGroupResponse } from '../protocol/generated/index.js';
import { ErrorCode } from '../protocol/error-codes.js';
import type { Handler } from './handler.js';
import { lookupGroup } from './group-lookup.js';

/** JoinGroup v0-9: the classic group protocol (see groups/consumer-group.ts). */
export function joinGroupHandler(
  broker: BrokerContext,
): Handler<JoinGroupRequest, JoinGroupResponse> {
  return {
    apiKey: 11,
    minVersion: 0,
    maxVersion: 9,
    async handle(request, ctx) {
      const v = ctx.apiVersion;
      const fail = (errorCode: number): JoinGroupResponse => ({
        throttleTimeMs: 0,
        errorCode,
        generationId: -1,
        protocolName: v >= 7 ? null : '',
        leader: '',
        memberId: request.memberId,
        members: [],
      });
      if (request.groupId === '') return fail(ErrorCode.INVALID_GROUP_ID);
      const { groupMinSessionTimeoutMs: min, groupMaxSessionTimeoutMs: max } = broker.config;
      if (request.sessionTimeoutMs < min || request.sessionTimeoutMs > max)
        return fail(ErrorCode.INVALID_SESSION_TIMEOUT);
      const group = await lookupGroup(broker, request.groupId);
      if (typeof group === 'number') return fail(group);
      const result = await group.join({
        memberId: request.memberId,
        groupInstanceId: v >= 5 ? (request.groupInstanceId ?? null) : null,
        clientId: ctx.clientId ?? '',
        clientHost: ctx.peer.replace(/:\d+$/, ''),
        sessionTimeoutMs: request.sessionTimeoutMs,
        // v0 has no rebalance timeout: Kafka uses the session timeout.
        rebalanceTimeoutMs:
          v >= 1
            ? (request.rebalanceTimeoutMs ?? request.sessionTimeoutMs)
            : request.sessionTimeoutMs,
        protocolType: request.protocolType,
        protocols: request.protocols,
        requireKnownMemberId: v >= 4,
      });
      return {
        throttleTimeMs: 0,
        errorCode: result.errorCode,
        generationId: result.generationId,
        protocolType: v >= 7 ? result.protocolType : undefined,
        protocolName: v >= 7 ? result.protocolName : (result.protocolName ?? ''),
        leader: result.leader,
        skipAssignment: false,
        memberId: result.memberId,
        members: result.members.map((m) => ({
          memberId: m.memberId,
          groupInstanceId: v >= 5 ? m.groupInstanceId : undefined,
          metadata: m.metadata,
        })),
      };
    },
  };
}
