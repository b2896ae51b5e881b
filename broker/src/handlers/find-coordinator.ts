import type { BrokerContext } from '../broker-context.js';
import type {
  FindCoordinatorRequest,
  FindCoordinatorResponse,
} from '../protocol/generated/index.js';
import { ErrorCode } from '../protocol/error-codes.js';
import type { Handler } from './handler.js';

const GROUP_KEY_TYPE = 0;

/**
 * FindCoordinator v0-6, single key (v0-3) and batched keys (v4+). Group coordinators are this
 * broker; transaction coordinators do not exist (transactions are not supported).
 */
export function findCoordinatorHandler(
  broker: BrokerContext,
): Handler<FindCoordinatorRequest, FindCoordinatorResponse> {
  const answer = (keyType: number, key: string) => {
    if (keyType !== GROUP_KEY_TYPE) {
      return {
        errorCode: ErrorCode.INVALID_REQUEST,
        errorMessage: 'only consumer group coordinators exist: transactions are not supported',
        nodeId: -1,
        host: '',
        port: -1,
      };
    }
    const coordinator = broker.membership.broker(broker.groups.coordinatorOf(key) ?? -1);
    if (!coordinator) {
      return {
        errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE,
        errorMessage: 'no live broker',
        nodeId: -1,
        host: '',
        port: -1,
      };
    }
    const { nodeId, host, port } = coordinator;
    return { errorCode: ErrorCode.NONE, errorMessage: null, nodeId, host, port };
  };
  return {
    apiKey: 10,
    minVersion: 0,
    maxVersion: 6,
    handle(request, ctx) {
      const keyType = request.keyType ?? GROUP_KEY_TYPE;
      if (ctx.apiVersion >= 4) {
        return {
          throttleTimeMs: 0,
          coordinators: (request.coordinatorKeys ?? []).map((key) => ({
            key,
            ...answer(keyType, key),
          })),
        };
      }
      const single = answer(keyType, request.key ?? '');
      return {
        throttleTimeMs: 0,
        ...single,
        errorMessage: ctx.apiVersion >= 1 ? single.errorMessage : undefined,
      };
    },
  };
}
