import { ErrorCode } from '../../src/protocol/error-codes.js';
import { validateProducedRecords } from '../../src/protocol/records/produce-rules.js';
import { buildRecordBatch } from '../../src/protocol/records/record-batch-builder.js';
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

test('a partition led by another broker is read from its committed state; appends are refused', async () => {
  await broker.metadata.createTopic('moved', 8, {});
  for (let p = 0; p < 8; p++) await appendRecords(broker, 'moved', p, 3);

  // Another broker joins: placement moves some partitions to it, and this one hands them off.
  const lease = await broker.store.grantLease(30);
  await broker.metadata.registerBroker(
    { nodeId: 99, host: 'elsewhere', port: 1, rack: null },
    lease.id,
  );
  const moved = async () => {
    for (let p = 0; p < 8; p++) if (broker.logs.leaderOf('moved', p) === 99) return p;
    return undefined;
  };
  let partition: number | undefined;
  while ((partition = await moved()) === undefined) await new Promise((r) => setTimeout(r, 10));
  await expect(broker.logs.get('moved', partition)).rejects.toMatchObject({
    code: ErrorCode.NOT_LEADER_OR_FOLLOWER,
  });

  let view = await broker.logs.reader('moved', partition);
  // The hand-off commits in the background: wait until the view shows all three records.
  while (view.highWatermark < 3) {
    await new Promise((r) => setTimeout(r, 600));
    view = await broker.logs.reader('moved', partition);
  }
  const read = await view.read(0, 1 << 20);
  expect(read.batches).toHaveLength(1);
  expect(read.highWatermark).toBe(3);
  const batch = validateProducedRecords(
    buildRecordBatch([{ key: null, value: Buffer.from('x') }]),
    9,
  );
  expect(() => view.append(batch)).toThrow(
    expect.objectContaining({ code: ErrorCode.NOT_LEADER_OR_FOLLOWER }),
  );
  await lease.revoke();
});
