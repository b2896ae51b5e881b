import type { BrokerContext } from '../broker-context.js';
import type { DescribeGroupsRequest, DescribeGroupsResponse } from '../protocol/generated/index.js';
import { ErrorCode } from '../protocol/error-codes.js';
import type { Handler } from './handler.js';
import { lookupExistingGroup } from './group-lookup.js';

/** DescribeGroups v0-5: state, protocol and members with their metadata and assignments. */
export function describeGroupsHandler(
  broker: BrokerContext,
): Handler<DescribeGroupsRequest, DescribeGroupsResponse> {
  return {
    apiKey: 15,
    minVersion: 0,
    maxVersion: 5,
    async handle(request, ctx) {
      const groups = [];
      for (const groupId of request.groups) {
        const found = await lookupExistingGroup(broker, groupId);
        const group = typeof found === 'number' ? undefined : found;
        groups.push({
          errorCode: typeof found === 'number' ? found : ErrorCode.NONE,
          groupId,
          groupState: group ? group.state : 'Dead',
          protocolType: group?.protocolType ?? '',
          protocolData: group?.protocolName ?? '',
          members: (group?.describeMembers() ?? []).map((m) => ({
            ...m,
            groupInstanceId: ctx.apiVersion >= 4 ? m.groupInstanceId : undefined,
          })),
          authorizedOperations: -2147483648,
        });
      }
      return { throttleTimeMs: 0, groups };
    },
  };
}
