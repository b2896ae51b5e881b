import type { BrokerContext } from '../broker-context.js';
import type { DeleteGroupsRequest, DeleteGroupsResponse } from '../protocol/generated/index.js';
import { ErrorCode } from '../protocol/error-codes.js';
import type { Handler } from './handler.js';
import { lookupExistingGroup } from './group-lookup.js';

/** DeleteGroups v0-2: only groups without members; their committed offsets go with them. */
export function deleteGroupsHandler(
  broker: BrokerContext,
): Handler<DeleteGroupsRequest, DeleteGroupsResponse> {
  return {
    apiKey: 42,
    minVersion: 0,
    maxVersion: 2,
    async handle(request) {
      const results = [];
      for (const groupId of request.groupsNames) {
        const group = await lookupExistingGroup(broker, groupId);
        let errorCode: number = ErrorCode.NONE;
        if (typeof group === 'number') errorCode = group;
        else if (!group) errorCode = ErrorCode.GROUP_ID_NOT_FOUND;
        else if (group.state !== 'Empty') errorCode = ErrorCode.NON_EMPTY_GROUP;
        else await broker.groups.deleteGroup(groupId);
        results.push({ groupId, errorCode });
      }
      return { throttleTimeMs: 0, results };
    },
  };
}
