// Bad input over the wire, against a real broker process: every defective Produce gets the error
// code a Kafka broker answers, on the same connection, and afterwards the broker still accepts
// good batches and every record acknowledged before is still there, at its offset.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { BrokerProcess } from '../support/broker-process.js';
import { WireClient } from '../support/wire-client.js';
import { buildRecordBatch } from '../../src/protocol/records/record-batch-builder.js';
import { decodeRecords } from '../../src/protocol/records/record-batch-decoder.js';
import type {
  FetchResponse,
  MetadataResponse,
  ProduceResponse,
  ProduceResponsePartitionProduceResponse,
} from '../../src/protocol/generated/index.js';

const PRODUCE = 0;
const FETCH = 1;
const METADATA = 3;

const NONE = 0;
const CORRUPT_MESSAGE = 2;
const UNKNOWN_TOPIC_OR_PARTITION = 3;
const MESSAGE_TOO_LARGE = 10;
const INVALID_REQUIRED_ACKS = 21;
const INVALID_RECORD = 87;

const TOPIC = 'good';
const MISSING_TOPIC = 'no-such-topic';

let dataDir: string;
let broker: BrokerProcess;
let client: WireClient;
/** Values of every acknowledged record, by offset. */
const acknowledged: string[] = [];

async function produceTopics(
  topics: { name: string; records: Buffer | null }[],
  acks = -1,
): Promise<ProduceResponse> {
  const { body } = await client.request<ProduceResponse>(PRODUCE, 8, {
    transactionalId: null,
    acks,
    timeoutMs: 30_000,
    topicData: topics.map((t) => ({
      name: t.name,
      partitionData: [{ index: 0, records: t.records }],
    })),
  });
  return body;
}

async function produce(
  records: Buffer | null,
  options: { topic?: string; acks?: number } = {},
): Promise<ProduceResponsePartitionProduceResponse> {
  const topic = options.topic ?? TOPIC;
  const body = await produceTopics([{ name: topic, records }], options.acks);
  expect(body.responses).toHaveLength(1);
  expect(body.responses[0].name).toBe(topic);
  expect(body.responses[0].partitionResponses).toHaveLength(1);
  return body.responses[0].partitionResponses[0];
}

function batchOf(values: string[]): Buffer {
  return buildRecordBatch(values.map((v) => ({ key: null, value: Buffer.from(v) })));
}

/** Produces good records, expects them acknowledged at the end of the log, and remembers them. */
async function produceGood(values: string[]): Promise<void> {
  const response = await produce(batchOf(values));
  expect(response.errorCode).toBe(NONE);
  expect(response.baseOffset).toBe(acknowledged.length);
  acknowledged.push(...values);
}

/** Every committed record of the partition, read through Fetch v4. */
async function fetchAll(): Promise<{ offset: number; value: string }[]> {
  const out: { offset: number; value: string }[] = [];
  for (;;) {
    const { body } = await client.request<FetchResponse>(FETCH, 4, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 64 * 1024 * 1024,
      isolationLevel: 0,
      topics: [
        {
          topic: TOPIC,
          partitions: [{ partition: 0, fetchOffset: out.length, partitionMaxBytes: 8 << 20 }],
        },
      ],
    });
    const partition = body.responses[0].partitions[0];
    expect(partition.errorCode).toBe(NONE);
    const records = partition.records ?? Buffer.alloc(0);
    let before = out.length;
    for (let at = 0; at + 12 <= records.length;) {
      const size = 12 + records.readInt32BE(at + 8);
      if (at + size > records.length) break;
      for (const r of decodeRecords(records.subarray(at, at + size))) {
        if (r.offset >= out.length) out.push({ offset: r.offset, value: r.value!.toString() });
      }
      at += size;
    }
    if (out.length >= partition.highWatermark || out.length === before) {
      expect(out.length).toBe(partition.highWatermark);
      return out;
    }
    before = out.length;
  }
}

async function expectLogIntact(): Promise<void> {
  const records = await fetchAll();
  expect(records).toEqual(acknowledged.map((value, offset) => ({ offset, value })));
}

/** After a refused request: same connection still open, good produce works, old data intact. */
async function expectStillServing(label: string): Promise<void> {
  expect(client.isOpen).toBe(true);
  await produceGood([`after-${label}-1`, `after-${label}-2`]);
  await expectLogIntact();
}

/** A message set v1 (magic 1) holding one message, as pre-0.11 clients sent it. */
function magicOneMessageSet(value: string): Buffer {
  const v = Buffer.from(value);
  const body = Buffer.alloc(1 + 1 + 8 + 4 + 4 + v.length);
  body.writeInt8(1, 0); // magic
  body.writeInt8(0, 1); // attributes
  body.writeBigInt64BE(BigInt(Date.now()), 2);
  body.writeInt32BE(-1, 10); // null key
  body.writeInt32BE(v.length, 14);
  v.copy(body, 18);
  const message = Buffer.alloc(12 + 4 + body.length);
  message.writeBigInt64BE(0n, 0);
  message.writeInt32BE(4 + body.length, 8);
  message.writeUInt32BE(crc32(body), 12);
  body.copy(message, 16);
  return message;
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kafscale-bad-input-'));
  // Topics can only be created by auto-creation here: create one with a first broker, then run
  // the tests against a broker on the same data that has auto-creation disabled.
  const seed = await BrokerProcess.start({ dataDir });
  try {
    client = await WireClient.connect(seed.port);
    const { body } = await client.request<MetadataResponse>(METADATA, 4, {
      topics: [{ name: TOPIC }],
      allowAutoTopicCreation: true,
    });
    expect(body.topics[0].errorCode).toBe(NONE);
    await produceGood(['seed-0', 'seed-1', 'seed-2']);
    await client.close();
    expect(await seed.stop()).toBe(0);
  } finally {
    await seed.destroy();
  }
  broker = await BrokerProcess.start({ dataDir, env: { KAFSCALE_AUTO_CREATE_TOPICS: 'false' } });
  client = await WireClient.connect(broker.port);
});

afterAll(async () => {
  await client?.close();
  await broker?.destroy();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('data acknowledged before a restart is served, and good produce appends after it', async () => {
  await expectLogIntact();
  await produceGood(['first-0', 'first-1']);
  await expectLogIntact();
});

test('a batch whose bytes do not match its CRC-32C is refused with CORRUPT_MESSAGE', async () => {
  const flippedRecord = batchOf(['corrupt-payload']);
  flippedRecord[flippedRecord.length - 3] ^= 0x40; // inside the record value, under the CRC
  const a = await produce(flippedRecord);
  expect(a.errorCode).toBe(CORRUPT_MESSAGE);
  expect(a.baseOffset).toBe(-1);
  expect(a.errorMessage).toMatch(/CRC/);

  const flippedCrc = batchOf(['corrupt-crc']);
  flippedCrc[17] ^= 0x01; // the stored CRC itself
  expect((await produce(flippedCrc)).errorCode).toBe(CORRUPT_MESSAGE);

  const flippedAttributes = batchOf(['corrupt-header']);
  flippedAttributes[30] ^= 0x01; // baseTimestamp: covered by the CRC
  expect((await produce(flippedAttributes)).errorCode).toBe(CORRUPT_MESSAGE);

  await expectStillServing('crc');
});

test('a magic 1 message set is refused with INVALID_RECORD', async () => {
  const response = await produce(magicOneMessageSet('old-format'));
  expect(response.errorCode).toBe(INVALID_RECORD);
  expect(response.baseOffset).toBe(-1);
  expect(response.errorMessage).toMatch(/magic 1/);
  await expectStillServing('magic1');
});

test('a batch above max.message.bytes is refused with MESSAGE_TOO_LARGE', async () => {
  // The default max.message.bytes is 1048588: a 1 MiB value plus the batch overhead is above it.
  const big = buildRecordBatch([{ key: null, value: Buffer.alloc(1024 * 1024 + 64, 'x') }]);
  expect(big.length).toBeGreaterThan(1048588);
  const response = await produce(big);
  expect(response.errorCode).toBe(MESSAGE_TOO_LARGE);
  expect(response.baseOffset).toBe(-1);

  // Just below the limit is accepted.
  const fits = buildRecordBatch([{ key: null, value: Buffer.alloc(1048588 - 80, 'y') }]);
  expect(fits.length).toBeLessThanOrEqual(1048588);
  const accepted = await produce(fits);
  expect(accepted.errorCode).toBe(NONE);
  expect(accepted.baseOffset).toBe(acknowledged.length);
  acknowledged.push('y'.repeat(1048588 - 80));
  await expectStillServing('too-large');
});

test('an unknown topic is refused with UNKNOWN_TOPIC_OR_PARTITION and not created', async () => {
  const response = await produce(batchOf(['nowhere']), { topic: MISSING_TOPIC });
  expect(response.errorCode).toBe(UNKNOWN_TOPIC_OR_PARTITION);
  expect(response.baseOffset).toBe(-1);

  // Metadata asking for it (auto-creation allowed by the client) does not create it either.
  for (let i = 0; i < 2; i++) {
    const { body } = await client.request<MetadataResponse>(METADATA, 4, {
      topics: [{ name: MISSING_TOPIC }],
      allowAutoTopicCreation: true,
    });
    expect(body.topics[0].errorCode).toBe(UNKNOWN_TOPIC_OR_PARTITION);
  }
  expect((await produce(batchOf(['nowhere']), { topic: MISSING_TOPIC })).errorCode).toBe(
    UNKNOWN_TOPIC_OR_PARTITION,
  );

  // A partition that does not exist in an existing topic.
  const { body } = await client.request<ProduceResponse>(PRODUCE, 8, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 30_000,
    topicData: [{ name: TOPIC, partitionData: [{ index: 7, records: batchOf(['p7']) }] }],
  });
  expect(body.responses[0].partitionResponses[0].errorCode).toBe(UNKNOWN_TOPIC_OR_PARTITION);

  // One request for a good topic and a missing one: the good part is stored and acknowledged.
  const mixed = await produceTopics([
    { name: MISSING_TOPIC, records: batchOf(['mixed-missing']) },
    { name: TOPIC, records: batchOf(['mixed-good']) },
  ]);
  const byName = new Map(mixed.responses.map((r) => [r.name, r.partitionResponses[0]]));
  expect(byName.get(MISSING_TOPIC)!.errorCode).toBe(UNKNOWN_TOPIC_OR_PARTITION);
  expect(byName.get(TOPIC)!.errorCode).toBe(NONE);
  expect(byName.get(TOPIC)!.baseOffset).toBe(acknowledged.length);
  acknowledged.push('mixed-good');
  await expectStillServing('unknown-topic');
});

test('acks=2 is refused with INVALID_REQUIRED_ACKS and nothing is stored', async () => {
  const response = await produce(batchOf(['acks-two']), { acks: 2 });
  expect(response.errorCode).toBe(INVALID_REQUIRED_ACKS);
  expect(response.baseOffset).toBe(-1);
  expect((await produce(batchOf(['acks-minus-two']), { acks: -2 })).errorCode).toBe(
    INVALID_REQUIRED_ACKS,
  );
  await expectStillServing('acks');
});

test('other malformed records blobs get INVALID_RECORD or CORRUPT_MESSAGE, never a crash', async () => {
  const good = batchOf(['part']);
  const cases: { name: string; records: Buffer | null; code: number }[] = [
    { name: 'two batches', records: Buffer.concat([good, batchOf(['x'])]), code: INVALID_RECORD },
    { name: 'truncated', records: good.subarray(0, good.length - 5), code: INVALID_RECORD },
    { name: 'empty', records: Buffer.alloc(0), code: INVALID_RECORD },
    { name: 'null', records: null, code: INVALID_RECORD },
    { name: 'garbage', records: Buffer.alloc(200, 0xab), code: CORRUPT_MESSAGE },
  ];
  for (const c of cases) {
    const response = await produce(c.records);
    expect({ name: c.name, code: response.errorCode }).toEqual({ name: c.name, code: c.code });
  }
  await expectStillServing('malformed');
});

test('a real client reads back exactly the acknowledged records', () => {
  const consumed = execFileSync(
    'kcat',
    [
      '-C',
      '-b',
      broker.bootstrap,
      '-t',
      TOPIC,
      '-p',
      '0',
      '-o',
      'beginning',
      '-e',
      '-q',
      '-f',
      '%o %s\\n',
    ],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  expect(consumed.split('\n').slice(0, -1)).toEqual(acknowledged.map((v, i) => `${i} ${v}`));
  // Refusing bad input is not a server error.
  expect(broker.output).not.toMatch(/"level":"error"|Error:|at .*\.ts:\d+/);
});
