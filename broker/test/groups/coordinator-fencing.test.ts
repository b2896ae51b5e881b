import { holderValue } from '../../src/metadata/cluster-metadata.js';
import { KafkaError } from '../../src/log/kafka-error.js';
import { ErrorCode } from '../../src/protocol/error-codes.js';
import { createTestBrokerContext, type TestBrokerContext } from '../support/test-broker-context.js';

let broker: TestBrokerContext;
beforeEach(async () => {
  broker = await createTestBrokerContext();
  await broker.metadata.createTopic('fenced', 1, {});
});
afterEach(async () => {
  await broker.close();
});

const record = (offset: number) => ({
  offset,
  leaderEpoch: -1,
  metadata: null,
  commitTimestamp: 0,
});

test('a coordinator that lost its group can no longer write its offsets', async () => {
  await broker.groups.group('g1');
  await broker.groups.commitOffsets('g1', [{ topic: 'fenced', partition: 0, record: record(5) }]);

  // Another broker (id 7) took the group over while this one was paused.
  await broker.store.put(broker.metadata.coordinatorKey('g1'), holderValue(7, 'another-lease'));
  const late = broker.groups.commitOffsets('g1', [
    { topic: 'fenced', partition: 0, record: record(2) },
  ]);
  await expect(late).rejects.toThrow(KafkaError);
  await expect(late).rejects.toMatchObject({ code: ErrorCode.NOT_COORDINATOR });

  const { offsets } = await broker.metadata.loadGroup('g1');
  expect(offsets.get('fenced/0')?.offset).toBe(5);
});
