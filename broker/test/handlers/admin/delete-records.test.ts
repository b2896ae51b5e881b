import { deleteRecordsHandler } from '../../../src/handlers/delete-records.js';
import { ErrorCode } from '../../../src/protocol/error-codes.js';
import type {
  DeleteRecordsRequestDeleteRecordsTopic,
  DeleteRecordsResponse,
} from '../../../src/protocol/generated/index.js';
import { partitionPrefix } from '../../../src/storage/segment-keys.js';
import {
  appendRecords,
  callAtVersion,
  createTestBrokerContext,
  type TestBrokerContext,
} from '../../support/test-broker-context.js';

let broker: TestBrokerContext;
beforeEach(async () => {
  broker = await createTestBrokerContext({
    // These tests are about a partition's own objects; packed objects are shared with other
    // partitions and left to the sweeper (broker/test/log/segment-packing.test.ts).
    env: { KAFSCALE_PACK_SEGMENTS: 'false' },
  });
  await broker.metadata.createTopic('r', 2, {});
  // Three commits, three segments: offsets 0-4, 5-9, 10-14.
  for (let i = 0; i < 3; i++) await appendRecords(broker, 'r', 0, 5);
});
afterEach(() => broker.close());

function call(
  version: number,
  topics: DeleteRecordsRequestDeleteRecordsTopic[],
): Promise<DeleteRecordsResponse> {
  return callAtVersion(deleteRecordsHandler(broker), version, { topics, timeoutMs: 30000 });
}

async function segmentObjects(): Promise<number> {
  return (await broker.objects.list(partitionPrefix(broker.config.namespace, 'r', 0))).length;
}

it('serves every version of the codec', () => {
  const handler = deleteRecordsHandler(broker);
  expect([handler.apiKey, handler.minVersion, handler.maxVersion]).toEqual([21, 0, 2]);
});

it.each([0, 1, 2])(
  'moves the log start offset at v%i and drops the segments below it',
  async (version) => {
    expect(await segmentObjects()).toBe(6);
    const response = await call(version, [
      { name: 'r', partitions: [{ partitionIndex: 0, offset: 7 }] },
    ]);
    expect(response.topics).toEqual([
      {
        name: 'r',
        partitions: [{ partitionIndex: 0, lowWatermark: 7, errorCode: ErrorCode.NONE }],
      },
    ]);
    const log = await broker.logs.get('r', 0);
    expect(log.logStartOffset).toBe(7);
    expect((await broker.metadata.readPartition('r', 0))?.state.logStartOffset).toBe(7);
    // The first segment (0-4) is wholly below 7: its object and index are gone.
    expect(log.manifest.map((s) => s.baseOffset)).toEqual([5, 10]);
    expect(await segmentObjects()).toBe(4);
    await expect(log.read(4, 1 << 20)).rejects.toMatchObject({
      code: ErrorCode.OFFSET_OUT_OF_RANGE,
    });
  },
);

it('treats offset -1 as the high watermark', async () => {
  const response = await call(2, [{ name: 'r', partitions: [{ partitionIndex: 0, offset: -1 }] }]);
  expect(response.topics[0].partitions[0]).toEqual({
    partitionIndex: 0,
    lowWatermark: 15,
    errorCode: ErrorCode.NONE,
  });
  expect(await segmentObjects()).toBe(0);
});

it('keeps the low watermark when asked to delete below it', async () => {
  await call(2, [{ name: 'r', partitions: [{ partitionIndex: 0, offset: 10 }] }]);
  const response = await call(2, [{ name: 'r', partitions: [{ partitionIndex: 0, offset: 3 }] }]);
  expect(response.topics[0].partitions[0]).toMatchObject({ lowWatermark: 10, errorCode: 0 });
});

it('works on an empty partition', async () => {
  const response = await call(2, [{ name: 'r', partitions: [{ partitionIndex: 1, offset: -1 }] }]);
  expect(response.topics[0].partitions[0]).toEqual({
    partitionIndex: 1,
    lowWatermark: 0,
    errorCode: ErrorCode.NONE,
  });
});

it.each([16, -2])('refuses offset %i with OFFSET_OUT_OF_RANGE', async (offset) => {
  const response = await call(1, [{ name: 'r', partitions: [{ partitionIndex: 0, offset }] }]);
  expect(response.topics[0].partitions[0]).toEqual({
    partitionIndex: 0,
    lowWatermark: -1,
    errorCode: ErrorCode.OFFSET_OUT_OF_RANGE,
  });
  expect((await broker.logs.get('r', 0)).logStartOffset).toBe(0);
});

it('answers UNKNOWN_TOPIC_OR_PARTITION per partition, serving the others', async () => {
  const response = await call(2, [
    {
      name: 'r',
      partitions: [
        { partitionIndex: 0, offset: 5 },
        { partitionIndex: 2, offset: 0 },
        { partitionIndex: -1, offset: 0 },
      ],
    },
    { name: 'nope', partitions: [{ partitionIndex: 0, offset: 0 }] },
  ]);
  expect(response.topics).toEqual([
    {
      name: 'r',
      partitions: [
        { partitionIndex: 0, lowWatermark: 5, errorCode: ErrorCode.NONE },
        { partitionIndex: 2, lowWatermark: -1, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION },
        { partitionIndex: -1, lowWatermark: -1, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION },
      ],
    },
    {
      name: 'nope',
      partitions: [
        { partitionIndex: 0, lowWatermark: -1, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION },
      ],
    },
  ]);
});
