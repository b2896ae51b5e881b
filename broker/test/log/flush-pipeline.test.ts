// Windows of one partition upload at the same time; commits stay in offset order, and a failed
// upload voids every later window of the partition even when its own upload succeeded.
import { KafkaError } from '../../src/log/kafka-error.js';
import { PartitionLog } from '../../src/log/partition-log.js';
import { ErrorCode } from '../../src/protocol/error-codes.js';
import { validateProducedRecords } from '../../src/protocol/records/produce-rules.js';
import { buildRecordBatch } from '../../src/protocol/records/record-batch-builder.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { SegmentCache } from '../../src/storage/segment-cache.js';
import { createTestBrokerContext, type TestBrokerContext } from '../support/test-broker-context.js';

const TOPIC = 'pipeline';

let broker: TestBrokerContext;
afterEach(async () => {
  await broker?.close();
});

function batch(n: number) {
  const records = [{ key: null, value: Buffer.from(`record-${n}`) }];
  return validateProducedRecords(buildRecordBatch(records), 9);
}

interface HeldPut {
  key: string;
  release: () => void;
  fail: () => void;
}

/** An object store whose PUTs wait until the test releases (or fails) each of them. */
function gatedStore(inner: ObjectStore): { store: ObjectStore; held: HeldPut[] } {
  const held: HeldPut[] = [];
  const store: ObjectStore = {
    put: (key, body) =>
      new Promise<void>((resolve, reject) => {
        held.push({
          key,
          release: () => void inner.put(key, body).then(resolve, reject),
          fail: () => reject(new Error(`injected PUT failure: ${key}`)),
        });
      }),
    get: (key, range) => inner.get(key, range),
    delete: (keys) => inner.delete(keys),
    list: (prefix) => inner.list(prefix),
    close: async () => {},
  };
  return { store, held };
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 2));
}

async function openGated() {
  broker = await createTestBrokerContext({ env: { KAFSCALE_PACK_SEGMENTS: 'false' } });
  await broker.metadata.createTopic(TOPIC, 1, {});
  const { store, held } = gatedStore(broker.objects);
  const log = await PartitionLog.open(TOPIC, 0, {
    metadata: broker.metadata,
    objects: store,
    cache: new SegmentCache(1 << 20),
    logger: broker.logger,
    config: { ...broker.logs.logConfig, flushIntervalMs: 1 },
  });
  return { log, held };
}

/** Settles to 'ok' or the Kafka error code, and records when it settled. */
function outcome(p: Promise<void>, order: string[], name: string): Promise<string | number> {
  return p.then(
    () => {
      order.push(name);
      return 'ok';
    },
    (err: unknown) => {
      order.push(name);
      return err instanceof KafkaError ? err.code : String(err);
    },
  );
}

test('a second window uploads while the first is in flight; commits stay in offset order', async () => {
  const { log, held } = await openGated();
  const order: string[] = [];
  const first = log.append(batch(0));
  // Each window is a segment and an index.
  await until(() => held.length === 2);
  const second = log.append(batch(1));
  await until(() => held.length === 4);
  expect([first.baseOffset, second.baseOffset]).toEqual([0, 1]);

  const results = [
    outcome(first.durable, order, 'first'),
    outcome(second.durable, order, 'second'),
  ];
  // The second window's upload finishes first: it still waits for the first commit.
  held[2].release();
  held[3].release();
  await new Promise((r) => setTimeout(r, 20));
  expect(order).toEqual([]);
  expect(log.highWatermark).toBe(0);
  held[0].release();
  held[1].release();
  expect(await Promise.all(results)).toEqual(['ok', 'ok']);
  expect(order).toEqual(['first', 'second']);
  expect(log.highWatermark).toBe(2);
  expect(log.manifest.map((s) => [s.baseOffset, s.lastOffset])).toEqual([
    [0, 0],
    [1, 1],
  ]);
  expect(await broker.metadata.readSegments(TOPIC, 0)).toEqual(log.manifest);
});

test('a failed upload voids the later window in flight, which is never committed', async () => {
  const { log, held } = await openGated();
  const order: string[] = [];
  const first = log.append(batch(0));
  await until(() => held.length === 2);
  const second = log.append(batch(1));
  await until(() => held.length === 4);
  const results = [
    outcome(first.durable, order, 'first'),
    outcome(second.durable, order, 'second'),
  ];
  held[2].release();
  held[3].release();
  held[0].fail();
  held[1].release();
  // Both retriable: the second window's offsets came after the failed ones.
  expect(await Promise.all(results)).toEqual([
    ErrorCode.KAFKA_STORAGE_ERROR,
    ErrorCode.KAFKA_STORAGE_ERROR,
  ]);
  expect(log.highWatermark).toBe(0);
  expect(log.manifest).toEqual([]);
  expect(await broker.metadata.readSegments(TOPIC, 0)).toEqual([]);
  expect((await broker.metadata.readPartition(TOPIC, 0))!.state.highWatermark).toBe(0);

  // The log goes on from the committed end: the offsets are given out again.
  const retry = log.append(batch(2));
  expect(retry.baseOffset).toBe(0);
  await until(() => held.length === 6);
  held[4].release();
  held[5].release();
  await retry.durable;
  expect(log.highWatermark).toBe(1);
  expect(log.isClosed).toBe(false);
});
