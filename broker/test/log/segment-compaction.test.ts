import { OrphanSweeper } from '../../src/cluster/orphan-sweeper.js';
import { PartitionLog } from '../../src/log/partition-log.js';
import { MAX_RUN_SEGMENTS, pickRun } from '../../src/log/segment-compactor.js';
import type { SegmentRecord } from '../../src/metadata/model.js';
import { validateProducedRecords } from '../../src/protocol/records/produce-rules.js';
import { buildRecordBatch } from '../../src/protocol/records/record-batch-builder.js';
import { readInt64 } from '../../src/protocol/records/record-batch.js';
import { dataCacheKey } from '../../src/storage/packed-object.js';
import { decodeSegment } from '../../src/storage/segment.js';
import { SegmentCache } from '../../src/storage/segment-cache.js';
import { decodeIndex } from '../../src/storage/segment-index.js';
import { parseSegmentKey } from '../../src/storage/segment-keys.js';
import { createTestBrokerContext, type TestBrokerContext } from '../support/test-broker-context.js';

const TOPIC = 'compacted';
/** Past any compaction age (KAFSCALE_COMPACT_MAX_AGE_MS is at most an hour). */
const LATER = () => Date.now() + 3_600_001;

let broker: TestBrokerContext;
afterEach(async () => {
  await broker?.close();
});

function batch(partition: number, n: number) {
  const records = Array.from({ length: 1 + (n % 3) }, (_, i) => ({
    key: Buffer.from(`p${partition}`),
    value: Buffer.from(`p${partition}-b${n}-r${i}`),
  }));
  return validateProducedRecords(buildRecordBatch(records), 9);
}

/** Appends `windows` flush windows to each partition, one after another; returns the bytes. */
async function produce(logs: PartitionLog[], windows: number, from = 0): Promise<Buffer[][]> {
  const sent: Buffer[][] = logs.map(() => []);
  for (let n = from; n < from + windows; n++) {
    await Promise.all(
      logs.map((log, p) => {
        const b = batch(p, n);
        sent[p].push(b.bytes);
        return log.append(b).durable;
      }),
    );
  }
  return sent;
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

/** The partition opened afresh from the metadata store, reading only object storage. */
function reopen(partition: number): Promise<PartitionLog> {
  return PartitionLog.open(TOPIC, partition, {
    metadata: broker.metadata,
    objects: broker.objects,
    cache: new SegmentCache(0),
    logger: broker.logger,
    config: { ...broker.logs.logConfig, rangeReadThresholdBytes: 0 },
  });
}

function expectContiguous(manifest: readonly SegmentRecord[], highWatermark: number): void {
  let next = 0;
  for (const s of manifest) {
    expect(s.baseOffset).toBe(next);
    next = s.lastOffset + 1;
  }
  expect(next).toBe(highWatermark);
}

test.each([
  ['from the leader cache', '268435456'],
  ['read back and checked from the bucket', '0'],
])(
  'packed segments are rewritten into the documented per-partition layout (%s)',
  async (_, cache) => {
    broker = await createTestBrokerContext({
      env: { KAFSCALE_FLUSH_INTERVAL_MS: '5', KAFSCALE_CACHE_BYTES: cache },
    });
    await broker.metadata.createTopic(TOPIC, 3, {});
    const logs = await Promise.all([0, 1, 2].map((p) => broker.logs.get(TOPIC, p)));
    const sent = await produce(logs, 6);
    const packedKeys = new Set(logs.flatMap((l) => l.manifest.map((s) => s.key)));
    expect(logs[0].manifest).toHaveLength(6);
    expect([...packedKeys].every((k) => k.includes('/_packed/'))).toBe(true);

    const sweeper = new OrphanSweeper(
      broker.metadata,
      broker.objects,
      broker.membership,
      broker.logger,
      {
        namespace: 'kafscale',
        graceMs: 0,
        intervalMs: 60_000,
      },
    );
    // Packed objects in use are never swept.
    expect(await sweeper.sweep(LATER())).toBe(0);
    // Young and small: nothing is due yet.
    expect(await broker.logs.compact()).toBe(0);
    expect(await broker.logs.compact(LATER())).toBe(3);

    for (const [p, log] of logs.entries()) {
      expect(log.manifest).toHaveLength(1);
      const [entry] = log.manifest;
      expect(await broker.metadata.readSegments(TOPIC, p)).toEqual([entry]);
      expect(parseSegmentKey(entry.key)).toMatchObject({
        namespace: 'kafscale',
        topic: TOPIC,
        partition: p,
        baseOffset: 0,
        kind: 'segment',
      });
      expect(entry.key).toMatch(
        new RegExp(`^kafscale/${TOPIC}/${p}/segment-0{20}-\\d+-[0-9a-f]{12}\\.kfs$`),
      );
      expect(entry.indexKey).toBe(entry.key.replace(/\.kfs$/, '.index'));
      expect(entry.segmentStart).toBeUndefined();
      expect(entry.indexStart).toBeUndefined();

      const bytes = await broker.objects.get(entry.key);
      const segment = decodeSegment(bytes);
      expect(segment.baseOffset).toBe(0);
      expect(segment.lastOffset).toBe(log.highWatermark - 1);
      expect(segment.batches.map((b) => b.bytes)).toEqual(sent[p]);
      expect(entry).toMatchObject({ dataStart: 32, dataEnd: bytes.length - 16 });
      const index = decodeIndex(await broker.objects.get(entry.indexKey), bytes.length);
      expect(index.entries[0]).toEqual({ offset: 0, position: 32 });
      expect(await readAll(log)).toEqual(sent[p]);
    }

    // The packed objects are referenced no more: the sweeper deletes them, the data stays.
    expect(await sweeper.sweep(LATER())).toBe(packedKeys.size);
    const listed = (await broker.objects.list('kafscale/')).map((o) => o.key);
    expect(listed.some((k) => k.includes('/_packed/'))).toBe(false);

    // A restarted leader finds everything through the metadata store, read from the bucket.
    for (const p of [0, 1, 2]) {
      const cold = await reopen(p);
      expect(cold.manifest).toEqual(logs[p].manifest);
      expect(await readAll(cold)).toEqual(sent[p]);
    }
  },
);

test('appends go on while a partition is compacted; no record is lost or duplicated', async () => {
  broker = await createTestBrokerContext({ env: { KAFSCALE_FLUSH_INTERVAL_MS: '2' } });
  await broker.metadata.createTopic(TOPIC, 2, {});
  const logs = await Promise.all([0, 1].map((p) => broker.logs.get(TOPIC, p)));
  const sent: Buffer[][] = [[], []];
  const first = await produce(logs, 10);
  first.forEach((s, p) => sent[p].push(...s));

  let stop = false;
  let n = 10;
  const producing = (async () => {
    while (!stop) {
      const more = await produce(logs, 1, n++);
      more.forEach((s, p) => sent[p].push(...s));
    }
  })();
  let swapped = 0;
  for (let round = 0; round < 5; round++) {
    swapped += await broker.logs.compact(LATER());
    await new Promise((r) => setTimeout(r, 5));
  }
  stop = true;
  await producing;
  swapped += await broker.logs.compact(LATER());
  expect(swapped).toBeGreaterThanOrEqual(2);

  for (const [p, log] of logs.entries()) {
    expectContiguous(log.manifest, log.highWatermark);
    expect(log.manifest.every((s) => s.segmentStart === undefined)).toBe(true);
    expect(await broker.metadata.readSegments(TOPIC, p)).toEqual(log.manifest);
    expect(await readAll(log)).toEqual(sent[p]);
    expect(await readAll(await reopen(p))).toEqual(sent[p]);
  }
});

test('a run longer than one etcd transaction holds is compacted in one commit', async () => {
  broker = await createTestBrokerContext({ env: { KAFSCALE_FLUSH_INTERVAL_MS: '1' } });
  await broker.metadata.createTopic(TOPIC, 1, {});
  const log = await broker.logs.get(TOPIC, 0);
  // 200 windows: 200 manifest entries, whose removal would be 199 delete operations.
  const sent = await produce([log], 200);
  expect(log.manifest).toHaveLength(200);
  // At default settings a run of small segments is not due after seconds, only after minutes.
  expect(await broker.logs.compact(Date.now() + 10_000)).toBe(0);
  expect(await broker.logs.compact(LATER())).toBe(1);
  expect(log.manifest).toHaveLength(1);
  expect(log.manifest[0].segmentStart).toBeUndefined();
  expect(await broker.metadata.readSegments(TOPIC, 0)).toEqual(log.manifest);
  expect(await readAll(log)).toEqual(sent[0]);
  expect(await readAll(await reopen(0))).toEqual(sent[0]);
});

test('a run is due by bytes, by age or by its length', () => {
  const entry = (base: number, bytes: number, createdAt: number, packed = true): SegmentRecord => ({
    key: packed ? `ns/_packed/b0-x/${base}.kfs` : `ns/t/0/segment-${base}.kfs`,
    indexKey: 'i',
    baseOffset: base,
    lastOffset: base,
    dataStart: 32,
    dataEnd: 32 + bytes,
    maxTimestamp: 0,
    createdAt,
    ...(packed ? { segmentStart: 0, segmentEnd: 48 + bytes, indexStart: 0, indexEnd: 28 } : {}),
  });
  const now = 100_000;
  const options = { minBytes: 1000, maxAgeMs: 10_000 };
  const young = [0, 1, 2].map((b) => entry(b, 100, now));
  expect(pickRun(young, options, now)).toBeUndefined();
  expect(pickRun(young, options, now + 10_000)).toEqual(young);
  const big = [0, 1, 2, 3].map((b) => entry(b, 400, now));
  expect(pickRun(big, options, now)).toEqual(big.slice(0, 3));
  const many = Array.from({ length: MAX_RUN_SEGMENTS + 5 }, (_, b) => entry(b, 1, now));
  expect(pickRun(many, options, now)).toHaveLength(MAX_RUN_SEGMENTS);
  // Per-partition segments are never rewritten; a run stops at them and at gaps.
  const mixed = [entry(0, 900, now, false), entry(1, 600, now), entry(2, 600, now)];
  expect(pickRun(mixed, options, now)).toEqual(mixed.slice(1));
  const gap = [entry(0, 100, 0), entry(5, 100, now)];
  expect(pickRun(gap, options, now)).toEqual([gap[0]]);
});

test('a compaction whose commit is fenced changes nothing', async () => {
  broker = await createTestBrokerContext({ env: { KAFSCALE_FLUSH_INTERVAL_MS: '5' } });
  await broker.metadata.createTopic(TOPIC, 1, {});
  const log = await broker.logs.get(TOPIC, 0);
  const sent = await produce([log], 4);
  const before = await broker.metadata.readSegments(TOPIC, 0);
  const current = (await broker.metadata.readPartition(TOPIC, 0))!;
  await broker.metadata.commitPartition(TOPIC, 0, current.modRevision, current.state, []);

  expect(await broker.logs.compact(LATER())).toBe(0);
  expect(log.isClosed).toBe(true);
  expect(broker.logged.some((e) => e.message === 'compaction failed')).toBe(true);
  expect(await broker.metadata.readSegments(TOPIC, 0)).toEqual(before);
  expect(await readAll(await reopen(0))).toEqual(sent[0]);
});

test('compaction starts once a run holds KAFSCALE_COMPACT_BYTES', async () => {
  broker = await createTestBrokerContext({
    env: { KAFSCALE_FLUSH_INTERVAL_MS: '5', KAFSCALE_COMPACT_BYTES: '1024' },
  });
  await broker.metadata.createTopic(TOPIC, 1, {});
  const log = await broker.logs.get(TOPIC, 0);
  const sent = await produce([log], 30);
  expect(await broker.logs.compact()).toBeGreaterThan(0);
  const big = log.manifest.filter((s) => s.segmentStart === undefined);
  expect(big.length).toBeGreaterThan(0);
  for (const s of big) expect(s.dataEnd - s.dataStart).toBeGreaterThanOrEqual(1024);
  expectContiguous(log.manifest, log.highWatermark);
  expect(await readAll(log)).toEqual(sent[0]);
});

test('a packed segment whose bytes fail their CRC is not copied; other partitions compact', async () => {
  broker = await createTestBrokerContext({
    env: { KAFSCALE_FLUSH_INTERVAL_MS: '5', KAFSCALE_CACHE_BYTES: '0' },
  });
  await broker.metadata.createTopic(TOPIC, 2, {});
  const logs = await Promise.all([0, 1].map((p) => broker.logs.get(TOPIC, p)));
  const sent = await produce(logs, 3);
  // Flip one byte inside a record of partition 0 in the packed object it shares with partition 1.
  const damaged = logs[0].manifest[1];
  const bytes = await broker.objects.get(damaged.key);
  bytes[damaged.dataEnd - 2] ^= 0xff;
  await broker.objects.put(damaged.key, bytes);
  const before = logs[0].manifest;

  expect(await broker.logs.compact(LATER())).toBe(1);
  expect(logs[0].manifest).toEqual(before);
  expect(broker.logged).toContainEqual(
    expect.objectContaining({
      message: 'compaction failed',
      partition: 0,
      err: expect.stringContaining('CRC'),
    }),
  );
  expect(logs[1].manifest).toHaveLength(1);
  expect(await readAll(logs[1])).toEqual(sent[1]);
});

test('compaction and a fetch reading the same uncached segments share each GET', async () => {
  broker = await createTestBrokerContext({ env: { KAFSCALE_FLUSH_INTERVAL_MS: '5' } });
  await broker.metadata.createTopic(TOPIC, 1, {});
  const log = await broker.logs.get(TOPIC, 0);
  const sent = await produce([log], 4);
  // As after a restart: nothing of the partition is in memory.
  for (const segment of log.manifest) broker.cache.delete(dataCacheKey(segment));
  const gets: string[] = [];
  const get = broker.objects.get.bind(broker.objects);
  broker.objects.get = (key, range) => {
    gets.push(key);
    return get(key, range);
  };

  const [compacted, read] = await Promise.all([broker.logs.compact(LATER()), readAll(log)]);
  expect(compacted).toBe(1);
  expect(read).toEqual(sent[0]);
  expect(gets).toHaveLength(4);
  expect(new Set(gets).size).toBe(4);
});
