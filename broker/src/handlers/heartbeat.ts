import type { BrokerContext } from '../broker-context.js';
import type { HeartbeatRequest, HeartbeatResponse } from '../protocol/generated/index.js';
import type { Handler } from './handler.js';
import { lookupGroup } from './group-lookup.js';

/** Heartbeat v0-4: keeps a member's session alive and tells it about rebalances. */
export function heartbeatHandler(
  broker: BrokerContext,
): Handler<HeartbeatRequest, HeartbeatResponse> {
  return {
    apiKey: 12,
    minVersion: 0,
    maxVersion: 4,
    async handle(request, ctx) {
      const group = await lookupGroup(broker, request.groupId);
      if (typeof group === 'number') return { throttleTimeMs: 0, errorCode: group };
      const instanceId = ctx.apiVersion >= 3 ? (request.groupInstanceId ?? null) : null;
      return {
        throttleTimeMs: 0,
        errorCode: group.heartbeat(request.memberId, instanceId, request.generationId),
      };
    },
  };
}
