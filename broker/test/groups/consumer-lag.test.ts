import {
  appendRecords,
  createTestBrokerContext,
  type TestBrokerContext,
} from '../support/test-broker-context.js';

let broker: TestBrokerContext;
beforeEach(async () => {
  broker = await createTestBrokerContext();
});
afterEach(async () => {
  await broker.close();
});

test('lag is the high watermark minus the committed offset, per group and partition', async () => {
  await broker.metadata.createTopic('lagging', 2, {});
  await appendRecords(broker, 'lagging', 0, 10);
  await appendRecords(broker, 'lagging', 1, 4);
  await broker.groups.group('readers');
  const record = (offset: number) => ({
    offset,
    leaderEpoch: -1,
    metadata: null,
    commitTimestamp: 0,
  });
  await broker.groups.commitOffsets('readers', [
    { topic: 'lagging', partition: 0, record: record(7) },
    { topic: 'lagging', partition: 1, record: record(4) },
  ]);
  const lag = await broker.groups.consumerLag();
  expect(lag.sort((a, b) => a.partition - b.partition)).toEqual([
    { group: 'readers', topic: 'lagging', partition: 0, lag: 3 },
    { group: 'readers', topic: 'lagging', partition: 1, lag: 0 },
  ]);
});
