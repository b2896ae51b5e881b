import { deleteTopicsHandler } from '../../src/handlers/delete-topics.js';
import { fetchHandler } from '../../src/handlers/fetch.js';
import { KafkaError } from '../../src/log/kafka-error.js';
import { PartitionLog } from '../../src/log/partition-log.js';
import type { SegmentRecord } from '../../src/metadata/model.js';
import { ErrorCode } from '../../src/protocol/error-codes.js';
import { validateProducedRecords } from '../../src/protocol/records/produce-rules.js';
import { buildRecordBatch } from '../../src/protocol/records/record-batch-builder.js';
import { readInt64 } from '../../src/protocol/records/record-batch.js';
import type { ByteRange } from '../../src/storage/object-store.js';
import { dataCacheKey, indexCacheKey } from '../../src/storage/packed-object.js';
import type { FetchResponse } from '../../src/protocol/generated/index.js';
import { decodeSegment } from '../../src/storage/segment.js';
import { SegmentCache } from '../../src/storage/segment-cache.js';
import { decodeIndex } from '../../src/storage/segment-index.js';
import { recordPuts } from '../support/put-recorder.js';
import {
  callAtVersion,
  createTestBrokerContext,
  type TestBrokerContext,
} from '../support/test-broker-context.js';

const TOPIC = 'packed';
// Long windows, ended for every partition in the same turn of the event loop: as when their
// flush timers fire together, without depending on timer jitter on a loaded machine.
const WINDOW_MS = '1000';
function flushTogether(logs: PartitionLog[]): void {
  for (const log of logs) void log.flush();
}

const PACKED_KEY = /^kafscale\/_packed\/b0-[0-9a-f]{12}\/\d{20}\.kfs$/;

let broker: TestBrokerContext;
afterEach(async () => {
  await broker?.close();
});

/** A batch whose records name their partition and position, ~`size` bytes of values. */
function batch(partition: number, n: number, size = 16) {
  const records = Array.from({ length: 3 }, (_, i) => ({
    key: Buffer.from(`p${partition}`),
    value: Buffer.from(`p${partition}-b${n}-r${i}-`.padEnd(size, 'x')),
  }));
  return validateProducedRecords(buildRecordBatch(records), 9);
}

async function openAll(partitions: number): Promise<PartitionLog[]> {
  return Promise.all(Array.from({ length: partitions }, (_, p) => broker.logs.get(TOPIC, p)));
}

/** A log of the partition opened afresh from the metadata store, reading only object storage. */
async function reopen(partition: number, rangeReadThresholdBytes: number) {
  const log = await PartitionLog.open(TOPIC, partition, {
    metadata: broker.metadata,
    objects: broker.objects,
    cache: new SegmentCache(0),
    logger: broker.logger,
    config: { ...broker.logs.logConfig, rangeReadThresholdBytes },
  });
  return log;
}

async function readAll(log: PartitionLog): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let offset = log.logStartOffset; offset < log.highWatermark;) {
    const { batches } = await log.read(offset, 1);
    out.push(...batches);
    const last = batches[batches.length - 1];
    offset = readInt64(last, 0) + last.readInt32BE(23) + 1;
  }
  return out;
}

test('100 partitions flushed in one window share one PUT and read back byte for byte', async () => {
  broker = await createTestBrokerContext({ env: { KAFSCALE_FLUSH_INTERVAL_MS: WINDOW_MS } });
  await broker.metadata.createTopic(TOPIC, 100, {});
  const logs = await openAll(100);
  const puts = recordPuts(broker.objects);
  const { committer } = broker.logs;
  const commitBatches = committer.batches;

  const sent = logs.map((log, p) => [0, 1].map((n) => batch(p, n)));
  const appended = logs.map((log, p) => sent[p].map((b) => log.append(b)));
  flushTogether(logs);
  await Promise.all(appended.flat().map((a) => a.durable));

  expect(puts.keys).toHaveLength(1);
  // ...and one batch of commits (one transaction, or as few as etcd's operation limit allows).
  expect(committer.batches - commitBatches).toBe(1);
  expect(puts.keys[0]).toMatch(PACKED_KEY);
  const packed = await broker.objects.get(puts.keys[0]);
  for (const [p, log] of logs.entries()) {
    expect(appended[p].map((a) => a.baseOffset)).toEqual([0, 3]);
    expect(log.highWatermark).toBe(6);
    const [entry] = log.manifest;
    expect(log.manifest).toHaveLength(1);
    expect(entry).toMatchObject({ key: puts.keys[0], indexKey: puts.keys[0], baseOffset: 0 });
    // The entry's ranges hold the partition's segment and index, unchanged.
    const segment = decodeSegment(packed.subarray(entry.segmentStart, entry.segmentEnd));
    expect(segment.batches.map((b) => b.bytes)).toEqual(sent[p].map((b) => b.bytes));
    expect(entry.dataStart).toBe(entry.segmentStart! + 32);
    expect(entry.dataEnd).toBe(entry.segmentEnd! - 16);
    const index = decodeIndex(
      packed.subarray(entry.indexStart, entry.indexEnd),
      entry.segmentEnd! - entry.segmentStart!,
    );
    expect(index.entries[0]).toEqual({ offset: 0, position: 32 });
    expect((await log.read(0, 1 << 20)).batches).toEqual(sent[p].map((b) => b.bytes));
  }
  // The manifest in the store says the same, so the data survives the leader.
  expect(await broker.metadata.readSegments(TOPIC, 42)).toEqual(logs[42].manifest);
  const cold = await reopen(42, 8 << 20);
  expect(await readAll(cold)).toEqual(sent[42].map((b) => b.bytes));
});

test('a fetch of every partition with nothing cached reads each packed object once', async () => {
  broker = await createTestBrokerContext({ env: { KAFSCALE_FLUSH_INTERVAL_MS: WINDOW_MS } });
  await broker.metadata.createTopic(TOPIC, 8, {});
  const logs = await openAll(8);
  const sent: Buffer[][] = logs.map(() => []);
  for (let n = 0; n < 3; n++) {
    const appended = logs.map((log, p) => {
      const b = batch(p, n, 200);
      sent[p].push(b.bytes);
      return log.append(b);
    });
    flushTogether(logs);
    await Promise.all(appended.map((a) => a.durable));
  }
  const objects = new Set(logs.flatMap((log) => log.manifest.map((s) => s.key)));
  expect(objects.size).toBe(3);
  // As after a restart: nothing cached.
  for (const s of logs.flatMap((log) => log.manifest)) {
    broker.cache.delete(dataCacheKey(s));
    broker.cache.delete(indexCacheKey(s));
  }
  const gets: string[] = [];
  const get = broker.objects.get.bind(broker.objects);
  broker.objects.get = (key, range) => {
    gets.push(key);
    return get(key, range);
  };

  const response = await callAtVersion<FetchResponse>(fetchHandler(broker), 12, {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 1,
    maxBytes: 1 << 20,
    topics: [
      {
        topic: TOPIC,
        partitions: logs.map((_, p) => ({
          partition: p,
          fetchOffset: 0,
          partitionMaxBytes: 1 << 20,
        })),
      },
    ],
  });
  const partitions = response.responses[0].partitions;
  for (const [p, data] of partitions.entries()) {
    expect(data.errorCode).toBe(0);
    expect(data.records).toEqual(Buffer.concat(sent[p]));
  }
  // One GET per packed object for all eight partitions' pieces, not one per piece (24).
  expect(gets.sort()).toEqual([...objects].sort());
});

test('reads of a packed entry use index-guided range reads of the packed object', async () => {
  broker = await createTestBrokerContext({ env: { KAFSCALE_FLUSH_INTERVAL_MS: WINDOW_MS } });
  await broker.metadata.createTopic(TOPIC, 3, {});
  const logs = await openAll(3);
  // Batches of ~3 KiB: the 4 KiB index interval indexes every other one.
  const sent = logs.map((log, p) => Array.from({ length: 8 }, (_, n) => batch(p, n, 1000)));
  const appended = logs.map((log, p) => sent[p].map((b) => log.append(b)));
  flushTogether(logs);
  await Promise.all(appended.flat().map((a) => a.durable));
  const entry: SegmentRecord = logs[1].manifest[0];
  expect(entry.segmentStart).toBeGreaterThan(0); // partition 1 is not first in the object

  const cold = await reopen(1, 0);
  const gets: { key: string; range?: ByteRange }[] = [];
  const get = broker.objects.get.bind(broker.objects);
  broker.objects.get = (key, range) => {
    gets.push({ key, range });
    return get(key, range);
  };
  const target = appended[1][5].baseOffset + 1; // inside the sixth batch
  const { batches } = await cold.read(target, 1);
  expect(batches[0]).toEqual(sent[1][5].bytes);
  // First the partition's index range, then its batches from the indexed position on.
  expect(gets[0]).toEqual({
    key: entry.key,
    range: { start: entry.indexStart, end: entry.indexEnd },
  });
  const packed = await get(entry.key);
  const index = decodeIndex(packed.subarray(entry.indexStart, entry.indexEnd));
  const indexed = index.entries.filter((e) => e.offset <= target).pop()!;
  expect(indexed.offset).toBeGreaterThan(0);
  expect(gets[1].key).toBe(entry.key);
  expect(gets[1].range!.start).toBe(entry.segmentStart! + indexed.position);
  expect(gets[1].range!.end).toBeLessThanOrEqual(entry.dataEnd);
  expect(await readAll(cold)).toEqual(sent[1].map((b) => b.bytes));
});

test('a failed PUT fails every window in it retriably and commits nothing', async () => {
  broker = await createTestBrokerContext({ env: { KAFSCALE_FLUSH_INTERVAL_MS: WINDOW_MS } });
  await broker.metadata.createTopic(TOPIC, 10, {});
  const logs = await openAll(10);
  const puts = recordPuts(broker.objects);
  puts.fail = true;

  const failing = logs.map((log, p) => log.append(batch(p, 0)).durable);
  flushTogether(logs);
  const results = await Promise.allSettled(failing);
  expect(puts.attempts).toBe(1);
  for (const r of results) {
    expect(r.status).toBe('rejected');
    const err = (r as PromiseRejectedResult).reason as KafkaError;
    expect(err).toBeInstanceOf(KafkaError);
    expect(err.code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
  }
  for (let p = 0; p < 10; p++) {
    expect(await broker.metadata.readSegments(TOPIC, p)).toEqual([]);
    expect((await broker.metadata.readPartition(TOPIC, p))!.state.highWatermark).toBe(0);
    expect(logs[p].highWatermark).toBe(0);
  }

  // The storage error is retriable: the same logs take the retry at the same offsets.
  puts.fail = false;
  const retried = logs.map((log, p) => log.append(batch(p, 0)));
  flushTogether(logs);
  await Promise.all(retried.map((a) => a.durable));
  expect(retried.map((a) => a.baseOffset)).toEqual(Array(10).fill(0));
  expect(puts.keys).toHaveLength(1);
  expect(logs.map((l) => l.highWatermark)).toEqual(Array(10).fill(3));
});

test('a fenced partition fails only its own window; the others in the object commit', async () => {
  broker = await createTestBrokerContext({ env: { KAFSCALE_FLUSH_INTERVAL_MS: WINDOW_MS } });
  await broker.metadata.createTopic(TOPIC, 10, {});
  const logs = await openAll(10);
  const puts = recordPuts(broker.objects);
  // Another writer takes partition 3 behind its leader's back.
  const current = (await broker.metadata.readPartition(TOPIC, 3))!;
  await broker.metadata.commitPartition(TOPIC, 3, current.modRevision, current.state, []);

  const sent = logs.map((log, p) => batch(p, 0));
  const durable = logs.map((log, p) => log.append(sent[p]).durable);
  flushTogether(logs);
  const results = await Promise.allSettled(durable);
  expect(puts.keys).toHaveLength(1);
  results.forEach((r, p) => {
    if (p === 3) {
      expect(r.status).toBe('rejected');
      const err = (r as PromiseRejectedResult).reason as KafkaError;
      expect(err.code).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    } else {
      expect(r.status).toBe('fulfilled');
    }
  });
  expect(await broker.metadata.readSegments(TOPIC, 3)).toEqual([]);
  for (const p of [0, 1, 2, 4, 9]) {
    const [entry] = await broker.metadata.readSegments(TOPIC, p);
    expect(entry.key).toBe(puts.keys[0]);
    expect((await logs[p].read(0, 1 << 20)).batches).toEqual([sent[p].bytes]);
  }
});

test('with packing off every partition writes its own segment and index', async () => {
  broker = await createTestBrokerContext({
    env: { KAFSCALE_FLUSH_INTERVAL_MS: WINDOW_MS, KAFSCALE_PACK_SEGMENTS: 'false' },
  });
  await broker.metadata.createTopic(TOPIC, 10, {});
  const logs = await openAll(10);
  const puts = recordPuts(broker.objects);
  const durable = logs.map((log, p) => log.append(batch(p, 0)).durable);
  flushTogether(logs);
  await Promise.all(durable);
  expect(puts.keys).toHaveLength(20);
  for (const [p, log] of logs.entries()) {
    const [entry] = log.manifest;
    expect(entry.key).toMatch(
      new RegExp(`^kafscale/${TOPIC}/${p}/segment-0{20}-\\d+-[0-9a-f]{12}\\.kfs$`),
    );
    expect(entry.segmentStart).toBeUndefined();
    expect(entry.indexKey).toBe(entry.key.replace(/\.kfs$/, '.index'));
  }
  expect(broker.logs.packer).toBeUndefined();
  expect(await broker.logs.compact(Date.now() + 3_600_000)).toBe(0);
});

test('deleting records or a topic never deletes a packed object other partitions still use', async () => {
  broker = await createTestBrokerContext({ env: { KAFSCALE_FLUSH_INTERVAL_MS: WINDOW_MS } });
  await broker.metadata.createTopic('gone', 2, {});
  await broker.metadata.createTopic(TOPIC, 1, {});
  const logs = await Promise.all([
    broker.logs.get('gone', 0),
    broker.logs.get('gone', 1),
    broker.logs.get(TOPIC, 0),
  ]);
  const puts = recordPuts(broker.objects);
  const sent = logs.map((log, i) => batch(i, 0));
  const durable = logs.map((log, i) => log.append(sent[i]).durable);
  flushTogether(logs);
  await Promise.all(durable);
  expect(puts.keys).toHaveLength(1);

  await logs[0].truncateBefore(logs[0].highWatermark);
  expect(logs[0].manifest).toEqual([]);
  const handler = deleteTopicsHandler(broker);
  await callAtVersion(handler, 0, { timeoutMs: 30000, topicNames: ['gone'], topics: [] });
  await handler.idle();
  expect(broker.metadata.topic('gone')).toBeUndefined();

  const listed = (await broker.objects.list('kafscale/')).map((o) => o.key);
  expect(listed).toEqual([puts.keys[0]]);
  expect(await readAll(await reopen(0, 8 << 20))).toEqual([sent[2].bytes]);
});
