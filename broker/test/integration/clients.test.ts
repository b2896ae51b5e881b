// Real clients against a real broker process, on both backends: the embedded default (local
// directory + embedded metadata) and etcd + S3 (s3rver). Every producer writes to fresh topics and
// a consumer from another library reads the records back; keys, values and headers must come
// back byte for byte, at the partitions and offsets the producer was told.
//
// Consumers never use groups (the broker has no coordinator yet). Producer -> consumer pairs:
// kafka-python reads what the others write, confluent-kafka reads what kafka-python writes. Only
// librdkafka can decode snappy/lz4/zstd here (kafka-python lacks the codec modules), so those
// batches are read by the other librdkafka tool (kcat <-> confluent-kafka).

import crypto from 'node:crypto';
import { BrokerProcess } from '../support/broker-process.js';
import {
  CONSUMER_CODECS,
  PRODUCER_CODECS,
  MAX_MESSAGE_BYTES,
  consume,
  javaPartition,
  produce,
  type Codec,
  type ConsumedRecord,
  type ConsumerClient,
  type Delivery,
  type Header,
  type OutgoingRecord,
  type ProducerClient,
} from '../support/clients.js';
import { EtcdServer } from '../support/etcd.js';
import { startS3rver, type S3rver } from '../support/s3rver.js';

const TIMEOUT_MS = 120_000;

const PRODUCERS: ProducerClient[] = [
  'kcat',
  'kafka-python',
  'confluent-kafka',
  'kafkajs',
  'platformatic',
];
const WIDE_PARTITIONS = 32;

interface Backend {
  name: string;
  /** Starts what the broker needs and returns its KAFSCALE_* environment. */
  setUp(): Promise<Record<string, string>>;
  tearDown(): Promise<void>;
}

function embedded(): Backend {
  return { name: 'embedded', setUp: async () => ({}), tearDown: async () => undefined };
}

function etcdAndS3(): Backend {
  let etcd: EtcdServer | undefined;
  let s3: S3rver | undefined;
  return {
    name: 'etcd + S3 (s3rver)',
    async setUp() {
      [etcd, s3] = await Promise.all([EtcdServer.start(), startS3rver()]);
      return {
        KAFSCALE_ETCD_ENDPOINTS: etcd.endpoint,
        KAFSCALE_S3_BUCKET: s3.bucket,
        KAFSCALE_S3_ENDPOINT: s3.endpoint,
        KAFSCALE_S3_PATH_STYLE: 'true',
        KAFSCALE_S3_REGION: s3.region,
        KAFSCALE_S3_ACCESS_KEY: s3.credentials.accessKeyId,
        KAFSCALE_S3_SECRET_KEY: s3.credentials.secretAccessKey,
      };
    },
    async tearDown() {
      await Promise.all([etcd?.destroy(), s3?.stop()]);
    },
  };
}

/** What a producer can put into a record and a consumer can read back faithfully. */
interface Caps {
  emptyBytes: boolean;
  nullHeaderValue: boolean;
  binaryHeaderValue: boolean;
  /** A record with both key and value null. */
  nullKeyAndValue: boolean;
}

const PRODUCER_CAPS: Record<ProducerClient, Caps> = {
  // kcat -Z sends empty as NULL; headers come from the command line as text.
  kcat: {
    emptyBytes: false,
    nullHeaderValue: false,
    binaryHeaderValue: false,
    nullKeyAndValue: true,
  },
  // kafka-python refuses a record without key and value ('Need at least one: key or value').
  'kafka-python': {
    emptyBytes: true,
    nullHeaderValue: false,
    binaryHeaderValue: true,
    nullKeyAndValue: false,
  },
  'confluent-kafka': {
    emptyBytes: true,
    nullHeaderValue: true,
    binaryHeaderValue: true,
    nullKeyAndValue: true,
  },
  kafkajs: {
    emptyBytes: true,
    nullHeaderValue: false,
    binaryHeaderValue: true,
    nullKeyAndValue: true,
  },
  platformatic: {
    emptyBytes: true,
    nullHeaderValue: true,
    binaryHeaderValue: true,
    nullKeyAndValue: true,
  },
};

const CONSUMER_CAPS: Record<ConsumerClient, Caps> = {
  // kcat prints headers as name=value CSV text.
  kcat: {
    emptyBytes: true,
    nullHeaderValue: false,
    binaryHeaderValue: false,
    nullKeyAndValue: true,
  },
  'kafka-python': {
    emptyBytes: true,
    nullHeaderValue: true,
    binaryHeaderValue: true,
    nullKeyAndValue: true,
  },
  'confluent-kafka': {
    emptyBytes: true,
    nullHeaderValue: true,
    binaryHeaderValue: true,
    nullKeyAndValue: true,
  },
};

/**
 * A consumer from another library that can decompress the codec. Only librdkafka decodes
 * snappy/lz4/zstd here, so librdkafka producers' batches in those codecs are read by the other
 * librdkafka tool.
 */
function readerFor(producer: ProducerClient, codec: Codec = 'none'): ConsumerClient {
  if (CONSUMER_CODECS['kafka-python'].includes(codec)) {
    return producer === 'kafka-python' ? 'confluent-kafka' : 'kafka-python';
  }
  return producer === 'confluent-kafka' ? 'kcat' : 'confluent-kafka';
}

const both = (a: Caps, b: Caps): Caps => ({
  emptyBytes: a.emptyBytes && b.emptyBytes,
  nullHeaderValue: a.nullHeaderValue && b.nullHeaderValue,
  binaryHeaderValue: a.binaryHeaderValue && b.binaryHeaderValue,
  nullKeyAndValue: a.nullKeyAndValue && b.nullKeyAndValue,
});

const text = (s: string) => Buffer.from(s, 'utf8');
const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

/** Records covering binary keys and values, null keys, tombstones and headers. */
function sampleRecords(topic: string, caps: Caps): OutgoingRecord[] {
  const headerValue = (s: string) =>
    caps.binaryHeaderValue ? Buffer.concat([text(s), ALL_BYTES]) : text(s);
  const headers: Header[] = [
    ['trace-id', headerValue('t1')],
    ['dup', text('first')],
    ['dup', text('second')],
    ['empty', Buffer.alloc(0)],
    ['ünïcode', text('välue')],
  ];
  const records: OutgoingRecord[] = [
    { topic, partition: 0, key: crypto.randomBytes(16), value: crypto.randomBytes(300), headers },
    { topic, partition: 0, key: null, value: text('null key') },
    { topic, partition: 0, key: text('tombstone'), value: null },
    {
      topic,
      partition: 0,
      key: ALL_BYTES,
      value: Buffer.concat([ALL_BYTES, ALL_BYTES]),
      headers: [['h', text('v')]],
    },
    { topic, partition: 0, key: text('ключ 🔑'), value: text('значение ✓'.repeat(50)) },
  ];
  if (caps.nullKeyAndValue) records.push({ topic, partition: 0, key: null, value: null });
  if (caps.emptyBytes)
    records.push({ topic, partition: 0, key: Buffer.alloc(0), value: Buffer.alloc(0) });
  if (caps.nullHeaderValue) {
    records.push({
      topic,
      partition: 0,
      key: text('nh'),
      value: text('v'),
      headers: [['null-value', null]],
    });
  }
  // Compressible runs too, so codecs have something to do.
  for (let i = 0; i < 50; i++) {
    records.push({
      topic,
      partition: 0,
      key: text(`key-${i % 7}`),
      value: text(`value ${i} `.repeat(40)),
    });
  }
  return records;
}

interface Expected {
  topic: string;
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Header[];
}

/**
 * What a consumer must read after the records went to fresh topics: each record at the partition it
 * names (or Java's murmur2 partition of its key), offsets 0, 1, ... in send order per partition.
 */
function expected(records: OutgoingRecord[], partitions = 1): Expected[] {
  const next = new Map<string, number>();
  const out = records.map((r) => {
    const partition = r.partition ?? javaPartition(r.key!, partitions);
    const key = `${r.topic}/${partition}`;
    const offset = next.get(key) ?? 0;
    next.set(key, offset + 1);
    return {
      topic: r.topic,
      partition,
      offset,
      key: r.key,
      value: r.value,
      headers: r.headers ?? [],
    };
  });
  return out.sort((a, b) =>
    a.topic !== b.topic
      ? a.topic < b.topic
        ? -1
        : 1
      : a.partition - b.partition || a.offset - b.offset,
  );
}

/** Readable and exact: buffers as hex, so a mismatch shows which bytes differ. */
function show(records: (Expected | ConsumedRecord)[]) {
  const hex = (b: Buffer | null) => (b === null ? null : b.toString('hex'));
  return records.map((r) => ({
    at: `${r.topic}/${r.partition}@${r.offset}`,
    key: hex(r.key),
    value: hex(r.value),
    headers: r.headers.map(([name, value]) => [name, hex(value)]),
  }));
}

function expectDeliveries(records: OutgoingRecord[], deliveries: Delivery[], partitions = 1) {
  expect(deliveries).toHaveLength(records.length);
  const want = new Map<OutgoingRecord, Expected>();
  const exp = expected(records, partitions);
  // expected() sorted its output; find each record's place again by identity of key/value.
  const byPartition = new Map<string, Expected[]>();
  for (const e of exp)
    byPartition.set(`${e.topic}/${e.partition}`, [
      ...(byPartition.get(`${e.topic}/${e.partition}`) ?? []),
      e,
    ]);
  for (const r of records) {
    const p = r.partition ?? javaPartition(r.key!, partitions);
    want.set(r, byPartition.get(`${r.topic}/${p}`)!.shift()!);
  }
  records.forEach((r, i) => {
    const d = deliveries[i]!;
    const e = want.get(r)!;
    expect(d.topic).toBe(r.topic);
    // kcat reports no offsets (-1) and, without an explicit partition, no partition.
    if (d.partition !== -1) expect(`${d.topic}/${d.partition}`).toBe(`${e.topic}/${e.partition}`);
    if (d.offset !== -1)
      expect(`${d.topic}/${d.partition}@${d.offset}`).toBe(`${e.topic}/${e.partition}@${e.offset}`);
  });
}

async function roundTrip(
  bootstrap: string,
  producer: ProducerClient,
  records: OutgoingRecord[],
  options: { codec?: Codec; partitions?: number; reader?: ConsumerClient } = {},
): Promise<ConsumedRecord[]> {
  const deliveries = await produce(producer, bootstrap, records, {
    compression: options.codec ?? 'none',
  });
  expectDeliveries(records, deliveries, options.partitions);
  const topics = [...new Set(records.map((r) => r.topic))];
  const reader = options.reader ?? readerFor(producer, options.codec);
  const { records: consumed } = await consume(reader, bootstrap, topics);
  expect(show(consumed)).toEqual(show(expected(records, options.partitions)));
  return consumed;
}

let run = 0;
const fresh = (what: string) => `${what}-${process.pid}-${Date.now().toString(36)}-${run++}`;

describe.each([embedded(), etcdAndS3()])('$name backend', (backend) => {
  let broker: BrokerProcess;
  /** Auto-creates topics with 32 partitions (its own cluster name and S3 namespace). */
  let wide: BrokerProcess;

  beforeAll(async () => {
    const env = await backend.setUp();
    [broker, wide] = await Promise.all([
      BrokerProcess.start({ env: { ...env, KAFSCALE_FLUSH_INTERVAL_MS: '2' } }),
      BrokerProcess.start({
        env: {
          ...env,
          KAFSCALE_FLUSH_INTERVAL_MS: '2',
          KAFSCALE_AUTO_CREATE_PARTITIONS: String(WIDE_PARTITIONS),
          KAFSCALE_CLUSTER_NAME: 'wide',
          KAFSCALE_S3_NAMESPACE: 'wide',
        },
      }),
    ]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([broker?.destroy(), wide?.destroy()]);
    await backend.tearDown();
  });

  describe.each(PRODUCERS)('%s producer', (producer) => {
    const codecs = PRODUCER_CODECS[producer];

    test(
      `exact keys, values, headers, null keys and tombstones, codecs ${codecs.join('/')}`,
      async () => {
        await Promise.all(
          codecs.map((codec) => {
            const reader = readerFor(producer, codec);
            const caps = both(PRODUCER_CAPS[producer], CONSUMER_CAPS[reader]);
            const records = sampleRecords(fresh(`${producer}-${codec}`), caps);
            return roundTrip(broker.bootstrap, producer, records, { codec, reader });
          }),
        );
      },
      TIMEOUT_MS,
    );

    test(
      'record sizes from 1 byte to just under 1 MiB (max.message.bytes 1048588)',
      async () => {
        const topic = fresh(`${producer}-sizes`);
        const sizes = [
          1,
          2,
          100,
          1000,
          16_384,
          100_000,
          500_000,
          1_000_000,
          MAX_MESSAGE_BYTES - 200,
        ];
        const records = sizes.map((size) => ({
          topic,
          partition: 0,
          key: text(`size-${size}`),
          value: crypto.randomBytes(size),
        }));
        await roundTrip(broker.bootstrap, producer, records);
      },
      TIMEOUT_MS,
    );

    test(
      `${WIDE_PARTITIONS} partitions, records spread by key with Java's murmur2 partitioner`,
      async () => {
        const topic = fresh(`${producer}-wide`);
        const records = Array.from({ length: 400 }, (_, i) => ({
          topic,
          key: text(`user-${i % 97}`),
          value: text(`event ${i}`),
        }));
        const consumed = await roundTrip(wide.bootstrap, producer, records, {
          partitions: WIDE_PARTITIONS,
        });
        expect(new Set(consumed.map((r) => r.partition)).size).toBeGreaterThanOrEqual(28);
      },
      TIMEOUT_MS,
    );

    test(
      '20 topics in one producer session',
      async () => {
        const base = fresh(`${producer}-many`);
        const records = Array.from({ length: 20 }, (_, t) =>
          Array.from({ length: 5 }, (_, i) => ({
            topic: `${base}-t${t}`,
            partition: 0,
            key: text(`k${i}`),
            value: text(`topic ${t} record ${i}`),
          })),
        ).flat();
        await roundTrip(broker.bootstrap, producer, records);
      },
      TIMEOUT_MS,
    );
  });

  test.each([
    ['confluent-kafka', 'enable.idempotence=true'],
    ['kafkajs', 'idempotent: true'],
    ['platformatic', 'idempotent: true'],
  ] as const)(
    'idempotent %s producer (%s) writes exactly once, in order',
    async (producer, _setting) => {
      const topic = fresh(`${producer}-idempotent`);
      const records = Array.from({ length: 3000 }, (_, i) => ({
        topic,
        partition: i % 3,
        key: text(`k${i}`),
        value: text(`idempotent ${i}`),
      }));
      const deliveries = await produce(producer, wide.bootstrap, records, { idempotent: true });
      expectDeliveries(records, deliveries);
      const { records: consumed } = await consume('kafka-python', wide.bootstrap, topic, {
        partitions: [0, 1, 2],
      });
      expect(show(consumed)).toEqual(show(expected(records)));
    },
    TIMEOUT_MS,
  );

  test(
    'ListOffsets: earliest, latest and by timestamp (kafka-python offsets_for_times, kcat -o s@ts, confluent-kafka)',
    async () => {
      const topic = fresh('list-offsets');
      const base = Date.now() - 60_000;
      const records = Array.from({ length: 10 }, (_, i) => ({
        topic,
        partition: 0,
        key: text(`k${i}`),
        value: text(`at ${i}`),
        timestamp: base + i * 1000,
      }));
      // One record per batch: the broker resolves timestamps per batch (it never decompresses).
      const config = { 'batch.num.messages': 1, 'linger.ms': 0, 'max.in.flight': 1 };
      await produce('confluent-kafka', broker.bootstrap, records, { config });
      const all = expected(records);
      const at = (r: ConsumedRecord) => r.offset;

      const earliest = await consume('kafka-python', broker.bootstrap, topic, {
        start: 'earliest',
      });
      expect(earliest.start.get(`${topic}/0`)).toBe(0);
      expect(earliest.end.get(`${topic}/0`)).toBe(10);
      expect(show(earliest.records)).toEqual(show(all));
      expect(earliest.records.map((r) => r.timestamp)).toEqual(records.map((r) => r.timestamp));

      const latest = await consume('kafka-python', broker.bootstrap, topic, { start: 'latest' });
      expect(latest.start.get(`${topic}/0`)).toBe(10);
      expect(latest.records).toEqual([]);

      // Between record 3 and 4: the first offset with timestamp >= ts is 4.
      const ts = base + 3500;
      for (const reader of ['kafka-python', 'confluent-kafka', 'kcat'] as const) {
        const byTime = await consume(reader, broker.bootstrap, topic, { start: { timestamp: ts } });
        expect({ reader, offsets: byTime.records.map(at) }).toEqual({
          reader,
          offsets: [4, 5, 6, 7, 8, 9],
        });
        if (reader !== 'kcat') expect(byTime.start.get(`${topic}/0`)).toBe(4);
      }
      // Exactly a record's timestamp finds that record; the first record's and earlier find 0.
      const exact = await consume('kafka-python', broker.bootstrap, topic, {
        start: { timestamp: base + 7000 },
      });
      expect(exact.start.get(`${topic}/0`)).toBe(7);
      const early = await consume('confluent-kafka', broker.bootstrap, topic, {
        start: { timestamp: base - 5000 },
      });
      expect(early.start.get(`${topic}/0`)).toBe(0);
      // Later than every record: no offset (kafka-python gets None and starts at the end).
      const late = await consume('kafka-python', broker.bootstrap, topic, {
        start: { timestamp: base + 60_000 },
      });
      expect(late.start.get(`${topic}/0`)).toBe(10);
      expect(late.records).toEqual([]);
    },
    TIMEOUT_MS,
  );
});
