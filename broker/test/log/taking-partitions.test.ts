// A broker taking many partitions at once bumps their epochs in shared metadata transactions.
import { createTestBrokerContext, type TestBrokerContext } from '../support/test-broker-context.js';

let broker: TestBrokerContext;
afterEach(async () => {
  await broker?.close();
});

test('partitions taken together commit their new epochs through the shared committer', async () => {
  broker = await createTestBrokerContext();
  await broker.metadata.createTopic('t', 20, {});
  const { committer } = broker.logs;
  const [batches, commits] = [committer.batches, committer.commits];

  const logs = await Promise.all(Array.from({ length: 20 }, (_, p) => broker.logs.get('t', p)));

  expect(logs.map((log) => log.leaderEpoch)).toEqual(new Array(20).fill(1));
  expect(committer.commits - commits).toBe(20);
  expect(committer.batches - batches).toBeLessThan(20);
  // The store holds the new epochs, so a writer of the old epoch is fenced.
  for (let p = 0; p < 20; p++) {
    expect((await broker.metadata.readPartition('t', p))?.state.leaderEpoch).toBe(1);
  }
});
