import type { BrokerContext } from '../broker-context.js';
import type { LeaveGroupRequest, LeaveGroupResponse } from '../protocol/generated/index.js';
import { ErrorCode } from '../protocol/error-codes.js';
import type { Handler } from './handler.js';
import { lookupGroup } from './group-lookup.js';

/** LeaveGroup v0-5: one member (v0-2) or a batch of members by id or instance id (v3+). */
export function leaveGroupHandler(
  broker: BrokerContext,
): Handler<LeaveGroupRequest, LeaveGroupResponse> {
  return {
    apiKey: 13,
    minVersion: 0,
    maxVersion: 5,
    async handle(request, ctx) {
      const group = await lookupGroup(broker, request.groupId);
      if (typeof group === 'number') return { throttleTimeMs: 0, errorCode: group, members: [] };
      if (ctx.apiVersion < 3) {
        return { throttleTimeMs: 0, errorCode: group.leave(request.memberId ?? '', null) };
      }
      const members = (request.members ?? []).map((m) => ({
        memberId: m.memberId ?? '',
        groupInstanceId: m.groupInstanceId ?? null,
        errorCode: group.leave(m.memberId ?? '', m.groupInstanceId ?? null),
      }));
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, members };
    },
  };
}
