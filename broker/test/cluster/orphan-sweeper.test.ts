import { OrphanSweeper } from '../../src/cluster/orphan-sweeper.js';
import {
  appendRecords,
  createTestBrokerContext,
  type TestBrokerContext,
} from '../support/test-broker-context.js';

let broker: TestBrokerContext;
beforeEach(async () => {
  broker = await createTestBrokerContext({
    // Per-partition objects, whose keys these tests name; sweeping packed objects is tested in
    // broker/test/log/segment-compaction.test.ts.
    env: { KAFSCALE_PACK_SEGMENTS: 'false' },
  });
});
afterEach(async () => {
  await broker.close();
});

const GRACE_MS = 60_000;

function sweeper(): OrphanSweeper {
  return new OrphanSweeper(broker.metadata, broker.objects, broker.membership, broker.logger, {
    namespace: broker.config.namespace,
    graceMs: GRACE_MS,
    intervalMs: 60_000,
  });
}

test('deletes unreferenced objects past the grace period and keeps every committed segment', async () => {
  await broker.metadata.createTopic('swept', 2, {});
  await appendRecords(broker, 'swept', 0, 5);
  await appendRecords(broker, 'swept', 1, 5);
  const ns = broker.config.namespace;
  const orphan = `${ns}/swept/0/segment-00000000000000000099-9-deadbeef0000.kfs`;
  await broker.objects.put(orphan, Buffer.from('never committed'));
  const committed = (await broker.objects.list(`${ns}/`))
    .map((o) => o.key)
    .filter((k) => k !== orphan);
  expect(committed).toHaveLength(4); // a .kfs and an .index per partition

  // Within the grace period even an orphan stays: its commit could still be under way.
  expect(await sweeper().sweep(Date.now())).toBe(0);
  expect((await broker.objects.list(`${ns}/`)).map((o) => o.key)).toContain(orphan);

  expect(await sweeper().sweep(Date.now() + 2 * GRACE_MS)).toBe(1);
  const left = (await broker.objects.list(`${ns}/`)).map((o) => o.key);
  expect(left.sort()).toEqual(committed.sort());
});

test('objects of a deleted topic become orphans and are swept', async () => {
  await broker.metadata.createTopic('gone', 1, {});
  await appendRecords(broker, 'gone', 0, 3);
  await broker.metadata.deleteTopic('gone');
  expect(await sweeper().sweep(Date.now() + 2 * GRACE_MS)).toBe(2);
  expect(await broker.objects.list(`${broker.config.namespace}/gone/`)).toEqual([]);
});
