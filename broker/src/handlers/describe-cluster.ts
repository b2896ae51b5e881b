import type { BrokerContext } from '../broker-context.js';
import { ErrorCode } from '../protocol/error-codes.js';
import {
  DescribeClusterRequestCodec,
  type DescribeClusterRequest,
  type DescribeClusterResponse,
} from '../protocol/generated/index.js';
import type { Handler } from './handler.js';

/** Kafka's UNSUPPORTED_ENDPOINT_TYPE (KIP-919); not (yet) in ErrorCode. */
export const UNSUPPORTED_ENDPOINT_TYPE = 119;

/** DescribeClusterRequest.endpointType values. */
export const EndpointType = { BROKERS: 1, CONTROLLERS: 2 } as const;

/** Kafka's AclOperation ids, for clusterAuthorizedOperations. */
const AclOperation = {
  CREATE: 5,
  ALTER: 7,
  DESCRIBE: 8,
  DESCRIBE_CONFIGS: 10,
  ALTER_CONFIGS: 11,
  IDEMPOTENT_WRITE: 12,
} as const;

/**
 * There are no ACLs: every client may do what the broker allows anyone, which is everything on
 * the cluster except the mutating admin operations when admin APIs are disabled.
 */
export function clusterOperations(allowAdminApis: boolean): number {
  const ops: number[] = [
    AclOperation.DESCRIBE,
    AclOperation.DESCRIBE_CONFIGS,
    AclOperation.IDEMPOTENT_WRITE,
  ];
  if (allowAdminApis) ops.push(AclOperation.CREATE, AclOperation.ALTER, AclOperation.ALTER_CONFIGS);
  return ops.reduce((bits, op) => bits | (1 << op), 0);
}

/** Kafka's "authorized operations were not requested" value. */
const OPERATIONS_NOT_REQUESTED = -2147483648;

export function describeClusterHandler(
  broker: BrokerContext,
): Handler<DescribeClusterRequest, DescribeClusterResponse> {
  const { config, clusterId } = broker;
  const unavailable = (endpointType: number) => ({
    throttleTimeMs: 0,
    endpointType,
    clusterId,
    controllerId: -1,
    brokers: [],
  });
  return {
    apiKey: DescribeClusterRequestCodec.apiKey,
    minVersion: DescribeClusterRequestCodec.minVersion,
    maxVersion: DescribeClusterRequestCodec.maxVersion,
    async handle(request) {
      const endpointType = request.endpointType ?? EndpointType.BROKERS;
      // Brokers are the only endpoints: there is no separate controller quorum to describe.
      if (endpointType !== EndpointType.BROKERS) {
        return {
          ...unavailable(endpointType),
          errorCode: UNSUPPORTED_ENDPOINT_TYPE,
          errorMessage: `Endpoint type ${endpointType} is not supported: only brokers (1) can be described`,
        };
      }
      const brokers = broker.membership.brokers();
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        endpointType,
        clusterId,
        // Any broker can do what a Kafka controller does; clients only need a live broker id.
        controllerId: Math.min(...brokers.map((b) => b.nodeId)),
        brokers: brokers.map((b) => ({
          brokerId: b.nodeId,
          host: b.host,
          port: b.port,
          rack: b.rack,
        })),
        clusterAuthorizedOperations: request.includeClusterAuthorizedOperations
          ? clusterOperations(config.allowAdminApis)
          : OPERATIONS_NOT_REQUESTED,
      };
    },
  };
}
