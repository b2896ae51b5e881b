import {
  endOffsetForEpoch,
  offsetForLeaderEpochHandler,
} from '../../../src/handlers/offset-for-leader-epoch.js';
import { ErrorCode } from '../../../src/protocol/error-codes.js';
import type {
  OffsetForLeaderEpochRequestOffsetForLeaderPartition,
  OffsetForLeaderEpochResponse,
} from '../../../src/protocol/generated/index.js';
import {
  appendRecords,
  callAtVersion,
  createTestBrokerContext,
  type TestBrokerContext,
} from '../../support/test-broker-context.js';

describe('endOffsetForEpoch (Kafka LeaderEpochFileCache.endOffsetFor)', () => {
  const epochs = [
    { epoch: 2, startOffset: 0 },
    { epoch: 4, startOffset: 10 },
    { epoch: 5, startOffset: 10 },
    { epoch: 7, startOffset: 25 },
  ];
  it.each([
    [7, { leaderEpoch: 7, endOffset: 40 }], // current epoch: the high watermark
    [5, { leaderEpoch: 5, endOffset: 25 }],
    [6, { leaderEpoch: 5, endOffset: 25 }], // unknown epoch: the largest one below it
    [2, { leaderEpoch: 2, endOffset: 10 }],
    [3, { leaderEpoch: 2, endOffset: 10 }],
    // Epoch 4 began where 5 began: it holds nothing and is gone, as in Kafka's cache.
    [4, { leaderEpoch: 2, endOffset: 10 }],
    [1, { leaderEpoch: 1, endOffset: 0 }], // older than all: the first epoch's start
    [8, { leaderEpoch: -1, endOffset: -1 }], // newer than the current epoch
    [-1, { leaderEpoch: -1, endOffset: -1 }],
  ])('epoch %i', (requested, expected) => {
    expect(endOffsetForEpoch(epochs, 40, requested)).toEqual(expected);
  });
});

describe('OffsetForLeaderEpoch', () => {
  let broker: TestBrokerContext;
  beforeEach(async () => {
    broker = await createTestBrokerContext();
    await broker.metadata.createTopic('e', 1, {});
    // Opening takes leadership (epoch 1 from offset 0); reopening starts epoch 2 at offset 5.
    await appendRecords(broker, 'e', 0, 5);
    (await broker.logs.get('e', 0)).close();
    await appendRecords(broker, 'e', 0, 3);
  });
  afterEach(() => broker.close());

  function call(
    version: number,
    partitions: OffsetForLeaderEpochRequestOffsetForLeaderPartition[],
    topic = 'e',
  ): Promise<OffsetForLeaderEpochResponse> {
    return callAtVersion(offsetForLeaderEpochHandler(broker), version, {
      replicaId: -1,
      topics: [{ topic, partitions }],
    });
  }

  it('serves every version of the codec', () => {
    const handler = offsetForLeaderEpochHandler(broker);
    expect([handler.apiKey, handler.minVersion, handler.maxVersion]).toEqual([23, 0, 4]);
  });

  it('answers end offsets from the partition epochs at v4', async () => {
    const log = await broker.logs.get('e', 0);
    expect(log.leaderEpoch).toBe(2);
    expect(log.epochs).toEqual([
      { epoch: 0, startOffset: 0 },
      { epoch: 1, startOffset: 0 },
      { epoch: 2, startOffset: 5 },
    ]);
    const response = await call(4, [
      { partition: 0, currentLeaderEpoch: 2, leaderEpoch: 2 },
      { partition: 0, currentLeaderEpoch: -1, leaderEpoch: 1 },
      { partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 },
      { partition: 0, currentLeaderEpoch: -1, leaderEpoch: 3 },
    ]);
    expect(response.topics[0].partitions).toEqual([
      { partition: 0, errorCode: ErrorCode.NONE, leaderEpoch: 2, endOffset: 8 },
      { partition: 0, errorCode: ErrorCode.NONE, leaderEpoch: 1, endOffset: 5 },
      { partition: 0, errorCode: ErrorCode.NONE, leaderEpoch: 0, endOffset: 0 },
      { partition: 0, errorCode: ErrorCode.NONE, leaderEpoch: -1, endOffset: -1 },
    ]);
  });

  it('answers the end offset alone at v0', async () => {
    const response = await call(0, [{ partition: 0, leaderEpoch: 1 }]);
    expect(response.topics[0].partitions).toEqual([
      // v0 has no leaderEpoch on the wire: the client decodes its default.
      { partition: 0, errorCode: ErrorCode.NONE, leaderEpoch: -1, endOffset: 5 },
    ]);
  });

  it('fences an older current leader epoch and does not know a newer one (v2+)', async () => {
    const response = await call(2, [
      { partition: 0, currentLeaderEpoch: 1, leaderEpoch: 1 },
      { partition: 0, currentLeaderEpoch: 3, leaderEpoch: 1 },
    ]);
    expect(response.topics[0].partitions).toEqual([
      { partition: 0, errorCode: ErrorCode.FENCED_LEADER_EPOCH, leaderEpoch: -1, endOffset: -1 },
      { partition: 0, errorCode: ErrorCode.UNKNOWN_LEADER_EPOCH, leaderEpoch: -1, endOffset: -1 },
    ]);
  });

  it('answers UNKNOWN_TOPIC_OR_PARTITION for unknown topics and partitions', async () => {
    const unknownPartition = await call(3, [
      { partition: 1, currentLeaderEpoch: -1, leaderEpoch: 0 },
    ]);
    const unknownTopic = await call(3, [{ partition: 0, leaderEpoch: 0 }], 'nope');
    for (const response of [unknownPartition, unknownTopic]) {
      expect(response.topics[0].partitions[0]).toMatchObject({
        errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        leaderEpoch: -1,
        endOffset: -1,
      });
    }
  });
});
