import { buildRecordBatch } from '../../src/protocol/records/record-batch-builder.js';
import { validateProducedRecords } from '../../src/protocol/records/produce-rules.js';
import { KafkaError } from '../../src/log/kafka-error.js';
import { ErrorCode } from '../../src/protocol/error-codes.js';
import { createTestBrokerContext, type TestBrokerContext } from '../support/test-broker-context.js';

let broker: TestBrokerContext;
beforeEach(async () => {
  broker = await createTestBrokerContext({ env: { KAFSCALE_PACK_SEGMENTS: 'false' } });
});
afterEach(async () => {
  await broker.close();
});

/** One committed segment of `count` records stamped `timestamp`. */
async function segment(topic: string, count: number, timestamp: number): Promise<void> {
  const log = await broker.logs.get(topic, 0);
  const records = Array.from({ length: count }, (_, i) => ({
    key: null,
    value: Buffer.alloc(100, i),
    timestamp,
  }));
  await log.append(validateProducedRecords(buildRecordBatch(records), 9)).durable;
}

async function objectKeys(topic: string): Promise<string[]> {
  return (await broker.objects.list(`${broker.config.namespace}/${topic}/`)).map((o) => o.key);
}

test('retention.ms drops whole segments whose newest record expired, and their objects', async () => {
  await broker.metadata.createTopic('aged', 1, { 'retention.ms': '60000' });
  const now = Date.now();
  await segment('aged', 5, now - 120_000); // offsets 0-4, expired
  await segment('aged', 5, now - 90_000); // offsets 5-9, expired
  await segment('aged', 5, now); // offsets 10-14, kept
  expect(await objectKeys('aged')).toHaveLength(6);

  await broker.logs.enforceRetention();
  const log = await broker.logs.get('aged', 0);
  expect(log.logStartOffset).toBe(10);
  expect(log.highWatermark).toBe(15);
  expect(log.manifest.map((s) => s.baseOffset)).toEqual([10]);
  expect(await objectKeys('aged')).toHaveLength(2);
  await expect(log.read(3, 1 << 20)).rejects.toMatchObject({ code: ErrorCode.OFFSET_OUT_OF_RANGE });
  await expect(log.read(3, 1 << 20)).rejects.toThrow(KafkaError);
  const kept = await log.read(10, 1 << 20);
  expect(kept.batches).toHaveLength(1);

  // The new log start is committed: a fresh leader (after a restart) sees it too.
  const state = await broker.metadata.readPartition('aged', 0);
  expect(state?.state.logStartOffset).toBe(10);
});

test('retention.bytes keeps the newest segments within the limit', async () => {
  await broker.metadata.createTopic('sized', 1, {
    'retention.bytes': '1500',
    'retention.ms': '-1',
  });
  for (let i = 0; i < 4; i++) await segment('sized', 5, Date.now()); // ~600 bytes of batches each
  const log = await broker.logs.get('sized', 0);
  const sizes = log.manifest.map((s) => s.dataEnd - s.dataStart);
  expect(sizes.every((b) => b > 500 && b < 1000)).toBe(true);

  await broker.logs.enforceRetention();
  expect(log.manifest.map((s) => s.baseOffset)).toEqual([10, 15]);
  expect(log.logStartOffset).toBe(10);
  expect(await objectKeys('sized')).toHaveLength(4);
});

test('-1 keeps everything', async () => {
  await broker.metadata.createTopic('forever', 1, {
    'retention.ms': '-1',
    'retention.bytes': '-1',
  });
  await segment('forever', 3, 1);
  await broker.logs.enforceRetention();
  expect((await broker.logs.get('forever', 0)).logStartOffset).toBe(0);
});
