import { createPartitionsHandler } from '../../../src/handlers/create-partitions.js';
import { ErrorCode } from '../../../src/protocol/error-codes.js';
import type {
  CreatePartitionsRequestCreatePartitionsTopic,
  CreatePartitionsResponse,
} from '../../../src/protocol/generated/index.js';
import {
  appendRecords,
  callAtVersion,
  createTestBrokerContext,
  type TestBrokerContext,
} from '../../support/test-broker-context.js';

let broker: TestBrokerContext;
beforeEach(async () => {
  broker = await createTestBrokerContext();
  await broker.metadata.createTopic('grow', 2, {});
});
afterEach(() => broker.close());

function call(
  version: number,
  topics: CreatePartitionsRequestCreatePartitionsTopic[],
  validateOnly = false,
): Promise<CreatePartitionsResponse> {
  return callAtVersion(createPartitionsHandler(broker), version, {
    topics,
    timeoutMs: 30000,
    validateOnly,
  });
}

it('serves every version of the codec', () => {
  const handler = createPartitionsHandler(broker);
  expect([handler.apiKey, handler.minVersion, handler.maxVersion]).toEqual([37, 0, 3]);
});

it.each([0, 2, 3])('adds partitions at v%i; the new ones take writes', async (version) => {
  const response = await call(version, [{ name: 'grow', count: 5, assignments: null }]);
  expect(response.results).toEqual([
    { name: 'grow', errorCode: ErrorCode.NONE, errorMessage: null },
  ]);
  expect(broker.metadata.topic('grow')?.partitions).toBe(5);
  await appendRecords(broker, 'grow', 4, 1);
  expect((await broker.logs.get('grow', 4)).highWatermark).toBe(1);
});

it('keeps existing partitions and their data', async () => {
  await appendRecords(broker, 'grow', 1, 3);
  await call(3, [{ name: 'grow', count: 3, assignments: null }]);
  expect((await broker.metadata.readPartition('grow', 1))?.state.highWatermark).toBe(3);
});

it('validates without changing anything when validateOnly is set', async () => {
  const response = await call(3, [{ name: 'grow', count: 9, assignments: null }], true);
  expect(response.results[0].errorCode).toBe(ErrorCode.NONE);
  expect(broker.metadata.topic('grow')?.partitions).toBe(2);
  expect(await broker.metadata.readPartition('grow', 2)).toBeUndefined();
});

it('refuses the same or a lower count with INVALID_PARTITIONS', async () => {
  const response = await call(3, [{ name: 'grow', count: 2, assignments: null }]);
  expect(response.results[0]).toEqual({
    name: 'grow',
    errorCode: ErrorCode.INVALID_PARTITIONS,
    errorMessage: 'Topic already has 2 partitions.',
  });
  const lower = await call(0, [{ name: 'grow', count: 1, assignments: null }]);
  expect(lower.results[0].errorCode).toBe(ErrorCode.INVALID_PARTITIONS);
  expect(lower.results[0].errorMessage).toContain('higher than the requested 1');
  expect(broker.metadata.topic('grow')?.partitions).toBe(2);
});

it('refuses a count no metadata transaction could hold', async () => {
  const response = await call(3, [{ name: 'grow', count: 0x7fffffff, assignments: null }]);
  expect(response.results[0].errorCode).toBe(ErrorCode.INVALID_PARTITIONS);
});

it('refuses manual assignments with INVALID_REQUEST', async () => {
  const response = await call(3, [{ name: 'grow', count: 3, assignments: [{ brokerIds: [0] }] }]);
  expect(response.results[0].errorCode).toBe(ErrorCode.INVALID_REQUEST);
  expect(broker.metadata.topic('grow')?.partitions).toBe(2);
});

it('answers UNKNOWN_TOPIC_OR_PARTITION for an unknown topic', async () => {
  const response = await call(2, [{ name: 'nope', count: 3, assignments: null }]);
  expect(response.results[0].errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
});

it('refuses a topic named twice', async () => {
  const response = await call(3, [
    { name: 'grow', count: 3, assignments: null },
    { name: 'grow', count: 4, assignments: null },
  ]);
  expect(response.results).toEqual([
    {
      name: 'grow',
      errorCode: ErrorCode.INVALID_REQUEST,
      errorMessage: 'Duplicate topic in request.',
    },
  ]);
  expect(broker.metadata.topic('grow')?.partitions).toBe(2);
});
