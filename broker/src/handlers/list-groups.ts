import type { BrokerContext } from '../broker-context.js';
import type { ListGroupsRequest, ListGroupsResponse } from '../protocol/generated/index.js';
import { ErrorCode } from '../protocol/error-codes.js';
import type { Handler } from './handler.js';

/** ListGroups v0-5 with the state filter (v4+) and type filter (v5, only "classic" groups exist). */
export function listGroupsHandler(
  broker: BrokerContext,
): Handler<ListGroupsRequest, ListGroupsResponse> {
  return {
    apiKey: 16,
    minVersion: 0,
    maxVersion: 5,
    async handle(request, ctx) {
      const v = ctx.apiVersion;
      const states = new Set((request.statesFilter ?? []).map((s) => s.toLowerCase()));
      const types = new Set((request.typesFilter ?? []).map((t) => t.toLowerCase()));
      if (types.size > 0 && !types.has('classic'))
        return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, groups: [] };
      const groups = (await broker.groups.allGroups())
        .filter((g) => states.size === 0 || states.has(g.state.toLowerCase()))
        .map((g) => ({
          groupId: g.groupId,
          protocolType: g.protocolType ?? '',
          groupState: v >= 4 ? g.state : undefined,
          groupType: v >= 5 ? 'classic' : undefined,
        }));
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, groups };
    },
  };
}
