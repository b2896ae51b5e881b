import {
  clusterOperations,
  describeClusterHandler,
  UNSUPPORTED_ENDPOINT_TYPE,
} from '../../../src/handlers/describe-cluster.js';
import { ErrorCode } from '../../../src/protocol/error-codes.js';
import type { DescribeClusterResponse } from '../../../src/protocol/generated/index.js';
import {
  callAtVersion,
  createTestBrokerContext,
  type TestBrokerContext,
} from '../../support/test-broker-context.js';

let broker: TestBrokerContext;
beforeEach(async () => {
  broker = await createTestBrokerContext({
    env: { KAFSCALE_BROKER_ID: '4', KAFSCALE_BROKER_HOST: 'kafscale-4', KAFSCALE_BROKER_RACK: 'a' },
  });
});
afterEach(() => broker.close());

function call(
  version: number,
  endpointType = 1,
  includeClusterAuthorizedOperations = false,
): Promise<DescribeClusterResponse> {
  return callAtVersion(describeClusterHandler(broker), version, {
    includeClusterAuthorizedOperations,
    endpointType,
  });
}

it('serves every version of the codec', () => {
  const handler = describeClusterHandler(broker);
  expect([handler.apiKey, handler.minVersion, handler.maxVersion]).toEqual([60, 0, 1]);
});

it('falls back to this broker before any broker is registered', async () => {
  const response = await call(0);
  expect(response).toMatchObject({
    errorCode: ErrorCode.NONE,
    clusterId: 'test-cluster-id',
    controllerId: 4,
    brokers: [{ brokerId: 4, host: 'kafscale-4', port: 9092, rack: 'a' }],
    clusterAuthorizedOperations: -2147483648,
  });
});

it('lists the registered brokers with the lowest id as controller at v1', async () => {
  for (const nodeId of [9, 4, 2]) {
    await broker.metadata.registerBroker({
      nodeId,
      host: `b${nodeId}`,
      port: 9000 + nodeId,
      rack: null,
    });
  }
  // The live set follows the registrations through a watch.
  while (!broker.membership.brokerIds().includes(2)) await new Promise((r) => setTimeout(r, 5));
  while (broker.membership.broker(4)?.host !== 'b4') await new Promise((r) => setTimeout(r, 5));
  const response = await call(1);
  expect(response).toMatchObject({
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    endpointType: 1,
    controllerId: 2,
    brokers: [
      { brokerId: 2, host: 'b2', port: 9002, rack: null },
      { brokerId: 4, host: 'b4', port: 9004, rack: null },
      { brokerId: 9, host: 'b9', port: 9009, rack: null },
    ],
  });
});

it('refuses the controller endpoint type with UNSUPPORTED_ENDPOINT_TYPE', async () => {
  const response = await call(1, 2);
  expect(UNSUPPORTED_ENDPOINT_TYPE).toBe(119);
  expect(response).toMatchObject({
    errorCode: 119,
    errorMessage: expect.stringContaining('Endpoint type 2 is not supported'),
    endpointType: 2,
    clusterId: 'test-cluster-id',
    controllerId: -1,
    brokers: [],
  });
});

it('reports the cluster operations a client may perform when asked', async () => {
  const response = await call(1, 1, true);
  const bits = response.clusterAuthorizedOperations ?? 0;
  const ops = [...Array(15).keys()].filter((op) => bits & (1 << op));
  // CREATE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE.
  expect(ops).toEqual([5, 7, 8, 10, 11, 12]);
  expect(clusterOperations(false)).toBe((1 << 8) | (1 << 10) | (1 << 12));
});
