// Durability of acknowledged data against real broker processes: kill -9 in the middle of a
// produce stream (embedded metadata and local objects; etcd and s3rver), idempotent dedupe across
// a crash, object storage and etcd outages, and the bucket layout read back with a parser written
// only from docs/storage-format.md.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { crc32c } from '@node-rs/crc32';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { BrokerProcess } from '../support/broker-process.js';
import { EtcdServer } from '../support/etcd.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { startS3rver, type S3rver } from '../support/s3rver.js';
import { WireClient } from '../support/wire-client.js';
import { probe } from '../support/metrics-scrape.js';
import { buildRecordBatch } from '../../src/protocol/records/record-batch-builder.js';
import { decodeRecords } from '../../src/protocol/records/record-batch-decoder.js';
import { EtcdMetadataStore } from '../../src/metadata/etcd-metadata-store.js';
import { ClusterMetadata } from '../../src/metadata/cluster-metadata.js';
import type { SegmentRecord } from '../../src/metadata/model.js';
import type {
  FetchResponse,
  InitProducerIdResponse,
  MetadataResponse,
  ProduceResponse,
  ProduceResponsePartitionProduceResponse,
} from '../../src/protocol/generated/index.js';

const PRODUCE = 0;
const FETCH = 1;
const METADATA = 3;
const INIT_PRODUCER_ID = 22;

const NONE = 0;
const LEADER_NOT_AVAILABLE = 5;
const NOT_LEADER_OR_FOLLOWER = 6;
const REQUEST_TIMED_OUT = 7;
const OUT_OF_ORDER_SEQUENCE_NUMBER = 45;
const INVALID_PRODUCER_EPOCH = 47;
const KAFKA_STORAGE_ERROR = 56;
/** Errors a Kafka client retries on Produce. */
const RETRIABLE = [6, 7, KAFKA_STORAGE_ERROR];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What each scenario observed, printed once at the end for the record. */
const findings: string[] = [];
afterAll(() => {
  if (findings.length) console.log(`durability findings:\n  ${findings.join('\n  ')}`);
});

// -- raw requests -------------------------------------------------------------------------------

async function createTopic(client: WireClient, topic: string): Promise<void> {
  const { body } = await client.request<MetadataResponse>(METADATA, 4, {
    topics: [{ name: topic }],
    allowAutoTopicCreation: true,
  });
  expect(body.topics[0].errorCode).toBe(NONE);
}

async function produceRaw(
  client: WireClient,
  topic: string,
  records: Buffer,
): Promise<ProduceResponsePartitionProduceResponse> {
  const { body } = await client.request<ProduceResponse>(PRODUCE, 8, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 60_000,
    topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
  });
  return body.responses[0].partitionResponses[0];
}

interface FetchedRecord {
  offset: number;
  value: string;
}

/** Every committed batch and record of partition 0, read through Fetch v4. */
async function fetchAll(
  client: WireClient,
  topic: string,
): Promise<{ records: FetchedRecord[]; batches: Buffer[]; highWatermark: number }> {
  const records: FetchedRecord[] = [];
  const batches: Buffer[] = [];
  let next = 0;
  // A restarted broker may need a lease TTL before it leads every partition again.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { body } = await client.request<FetchResponse>(FETCH, 4, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 64 << 20,
      isolationLevel: 0,
      topics: [
        { topic, partitions: [{ partition: 0, fetchOffset: next, partitionMaxBytes: 8 << 20 }] },
      ],
    });
    const partition = body.responses[0].partitions[0];
    if ([LEADER_NOT_AVAILABLE, NOT_LEADER_OR_FOLLOWER].includes(partition.errorCode)) {
      expect(Date.now()).toBeLessThan(deadline);
      await sleep(250);
      continue;
    }
    expect(partition.errorCode).toBe(NONE);
    const data = partition.records ?? Buffer.alloc(0);
    const before = next;
    for (let at = 0; at + 12 <= data.length;) {
      const size = 12 + data.readInt32BE(at + 8);
      if (at + size > data.length) break;
      const batch = data.subarray(at, at + size);
      const last = Number(batch.readBigInt64BE(0)) + batch.readInt32BE(23);
      if (last >= next) {
        batches.push(Buffer.from(batch));
        for (const r of decodeRecords(batch)) {
          records.push({ offset: r.offset, value: r.value?.toString() ?? '' });
        }
        next = last + 1;
      }
      at += size;
    }
    if (next >= partition.highWatermark || next === before) {
      return { records, batches, highWatermark: partition.highWatermark };
    }
  }
}

function batchOf(values: string[], options: Parameters<typeof buildRecordBatch>[1] = {}): Buffer {
  return buildRecordBatch(
    values.map((v) => ({ key: null, value: Buffer.from(v) })),
    { timestamp: 1_700_000_000_000, ...options },
  );
}

/** Whether the process exists (a crashed broker is reaped and gone). */
function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// -- a real producer: confluent-kafka (librdkafka) with acks=all --------------------------------

const PRODUCER_SCRIPT = `
import sys, time
from confluent_kafka import Producer
bootstrap, topic, count, idempotent = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == '1'
p = Producer({
    'bootstrap.servers': bootstrap,
    'acks': 'all',
    'enable.idempotence': idempotent,
    'retries': 1000000,
    'retry.backoff.ms': 100,
    'message.timeout.ms': 120000,
    'linger.ms': 5,
    'reconnect.backoff.ms': 50,
    'reconnect.backoff.max.ms': 500,
})
def report(err, msg):
    i = int(msg.value().decode().split('-')[1])
    if err is not None:
        print('E', i, err.code(), err.str().replace(' ', '_'), flush=True)
    else:
        print('A', i, msg.offset(), flush=True)
for i in range(count):
    while True:
        try:
            p.produce(topic, value=('rec-%06d' % i).encode(), on_delivery=report)
            break
        except BufferError:
            p.poll(0.05)
    p.poll(0)
    if i % 10 == 9:
        time.sleep(0.01)
left = p.flush(150)
print('DONE', left, flush=True)
`;

let scriptPath: string;
beforeAll(() => {
  scriptPath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kafscale-producer-')), 'p.py');
  fs.writeFileSync(scriptPath, PRODUCER_SCRIPT);
});
afterAll(() => fs.rmSync(path.dirname(scriptPath), { recursive: true, force: true }));

class StreamProducer {
  /** Record number -> acknowledged offset. */
  readonly acked = new Map<number, number>();
  readonly errors: string[] = [];
  stderr = '';
  private buffer = '';
  private readonly exited: Promise<number | null>;
  private waiters: { count: number; resolve: () => void }[] = [];
  private readonly child: ChildProcess;

  constructor(bootstrap: string, topic: string, count: number, idempotent: boolean) {
    this.child = spawn(
      '/usr/bin/python3',
      ['-u', scriptPath, bootstrap, topic, String(count), idempotent ? '1' : '0'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child.stdout!.on('data', (chunk: Buffer) => this.onData(chunk.toString()));
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-20_000);
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  private onData(text: string): void {
    this.buffer += text;
    const lines = this.buffer.split('\n');
    this.buffer = lines.pop()!;
    for (const line of lines) {
      const [kind, i, rest] = line.split(' ');
      if (kind === 'A') this.acked.set(Number(i), Number(rest));
      else if (kind === 'E') this.errors.push(line);
    }
    this.waiters = this.waiters.filter((w) => {
      if (this.acked.size < w.count) return true;
      w.resolve();
      return false;
    });
  }

  /** Resolves once at least count records are acknowledged. */
  ackedAtLeast(count: number): Promise<void> {
    if (this.acked.size >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  async finished(timeoutMs: number): Promise<number | null> {
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** Every record of partition 0 as a real consumer (kcat) sees it. */
function consumeAll(bootstrap: string, topic: string): FetchedRecord[] {
  const out = execFileSync(
    'kcat',
    [
      '-C',
      '-b',
      bootstrap,
      '-t',
      topic,
      '-p',
      '0',
      '-o',
      'beginning',
      '-e',
      '-q',
      '-f',
      '%o %s\\n',
    ],
    { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 60_000 },
  );
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [offset, value] = line.split(' ');
      return { offset: Number(offset), value };
    });
}

/**
 * Checks what a consumer reads against what the producer was told: every acknowledged record is
 * at the offset it was acknowledged with, offsets are contiguous from 0, and (idempotent) no
 * record is stored twice.
 */
function checkLog(
  consumed: FetchedRecord[],
  acked: Map<number, number>,
  idempotent: boolean,
): { duplicates: number } {
  expect(consumed.map((r) => r.offset)).toEqual(consumed.map((_, i) => i));
  const byOffset = new Map(consumed.map((r) => [r.offset, r.value]));
  const missing = [...acked].filter(
    ([i, offset]) => byOffset.get(offset) !== `rec-${String(i).padStart(6, '0')}`,
  );
  expect(missing).toEqual([]);
  const values = consumed.map((r) => r.value);
  const duplicates = values.length - new Set(values).size;
  if (idempotent) expect(duplicates).toBe(0);
  return { duplicates };
}

/** A librdkafka producer streams records; the broker is killed -9 mid-stream and relaunched. */
async function killMidStream(
  broker: BrokerProcess,
  label: string,
  topic: string,
  idempotent: boolean,
): Promise<void> {
  const count = 4000;
  const client = await WireClient.connect(broker.port);
  await createTopic(client, topic);
  await client.close();

  const producer = new StreamProducer(broker.bootstrap, topic, count, idempotent);
  try {
    await producer.ackedAtLeast(count / 4);
    const ackedAtKill = producer.acked.size;
    await broker.kill9();
    const killedAt = Date.now();
    await sleep(200);
    await broker.relaunch();
    const relaunchMs = Date.now() - killedAt;
    const exit = await producer.finished(150_000);
    const drainedMs = Date.now() - killedAt;

    expect(ackedAtKill).toBeLessThan(count * 0.9); // the kill really was mid-stream
    const consumed = consumeAll(broker.bootstrap, topic);
    const { duplicates } = checkLog(consumed, producer.acked, idempotent);
    findings.push(
      `${label} ${idempotent ? 'idempotent' : 'non-idempotent'}: ${ackedAtKill} acked at kill -9, ` +
        `broker back in ${relaunchMs} ms, producer done ${drainedMs} ms after the kill (exit ${exit}); ` +
        `${producer.acked.size}/${count} acked, ${producer.errors.length} delivery errors, ` +
        `${consumed.length} records consumed, ${duplicates} duplicates`,
    );
    expect(exit).toBe(0);
    expect(producer.errors).toEqual([]);
    expect(producer.acked.size).toBe(count);
    if (idempotent) {
      // Exactly once and in order.
      expect(consumed.map((r) => r.value)).toEqual(
        Array.from({ length: count }, (_, i) => `rec-${String(i).padStart(6, '0')}`),
      );
    }
  } finally {
    producer.kill();
  }
}

// -- 1. kill -9 mid-stream ----------------------------------------------------------------------

describe('kill -9 in the middle of an acks=all stream, embedded metadata and local objects', () => {
  let broker: BrokerProcess;
  beforeAll(async () => {
    broker = await BrokerProcess.start();
  });
  afterAll(async () => {
    await broker?.destroy();
  });

  test('idempotent producer: every record exactly once, in order, at its acknowledged offset', async () => {
    await killMidStream(broker, 'embedded', 'kill9-idempotent', true);
  }, 120_000);

  test('non-idempotent producer: every acknowledged record present at its offset', async () => {
    await killMidStream(broker, 'embedded', 'kill9-plain', false);
  }, 120_000);
});

describe('kill -9 in the middle of an acks=all stream, etcd and s3rver', () => {
  let etcd: EtcdServer;
  let s3: S3rver;
  let broker: BrokerProcess;
  beforeAll(async () => {
    [etcd, s3] = await Promise.all([EtcdServer.start(), startS3rver('kill9')]);
    broker = await BrokerProcess.start({
      env: {
        KAFSCALE_ETCD_ENDPOINTS: etcd.endpoint,
        KAFSCALE_S3_BUCKET: s3.bucket,
        KAFSCALE_S3_ENDPOINT: s3.endpoint,
        KAFSCALE_S3_PATH_STYLE: 'true',
        KAFSCALE_S3_ACCESS_KEY: s3.credentials.accessKeyId,
        KAFSCALE_S3_SECRET_KEY: s3.credentials.secretAccessKey,
      },
    });
  });
  afterAll(async () => {
    await broker?.destroy();
    await Promise.all([etcd?.destroy(), s3?.stop()]);
  });

  test('idempotent producer: every record exactly once, in order, at its acknowledged offset', async () => {
    await killMidStream(broker, 'etcd+s3', 'kill9-idempotent', true);
  }, 120_000);

  test('non-idempotent producer: every acknowledged record present at its offset', async () => {
    await killMidStream(broker, 'etcd+s3', 'kill9-plain', false);
  }, 120_000);
});

// -- 2. idempotent dedupe with raw requests -----------------------------------------------------

describe('idempotent producer state with raw requests', () => {
  const topic = 'idempotence';
  let broker: BrokerProcess;
  let client: WireClient;
  beforeAll(async () => {
    broker = await BrokerProcess.start();
    client = await WireClient.connect(broker.port);
    await createTopic(client, topic);
  });
  afterAll(async () => {
    await client?.close();
    await broker?.destroy();
  });

  async function initProducerId(body: object): Promise<InitProducerIdResponse> {
    const response = await client.request<InitProducerIdResponse>(INIT_PRODUCER_ID, 3, {
      transactionalId: null,
      transactionTimeoutMs: 60_000,
      producerId: -1,
      producerEpoch: -1,
      ...body,
    });
    expect(response.body.errorCode).toBe(NONE);
    return response.body;
  }

  async function values(): Promise<string[]> {
    return (await fetchAll(client, topic)).records.map((r) => r.value);
  }

  test('duplicates are answered with the original offset, gaps and stale epochs refused, state survives kill -9', async () => {
    const { producerId, producerEpoch } = await initProducerId({});
    expect(producerId).toBeGreaterThanOrEqual(0);
    expect(producerEpoch).toBe(0);
    const batch = (vals: string[], epoch: number, seq: number) =>
      batchOf(vals, { producerId, producerEpoch: epoch, baseSequence: seq });

    // The same Produce twice: the second gets the first one's offset; stored once.
    const first = await produceRaw(client, topic, batch(['a0', 'a1', 'a2'], 0, 0));
    expect(first).toMatchObject({ errorCode: NONE, baseOffset: 0 });
    const again = await produceRaw(client, topic, batch(['a0', 'a1', 'a2'], 0, 0));
    expect(again).toMatchObject({ errorCode: NONE, baseOffset: 0 });
    expect(await values()).toEqual(['a0', 'a1', 'a2']);

    // A duplicate pipelined right behind its original (still in flight when it arrives).
    const [b, bAgain] = await Promise.all([
      produceRaw(client, topic, batch(['b3', 'b4'], 0, 3)),
      produceRaw(client, topic, batch(['b3', 'b4'], 0, 3)),
    ]);
    expect(b).toMatchObject({ errorCode: NONE, baseOffset: 3 });
    expect(bAgain).toMatchObject({ errorCode: NONE, baseOffset: 3 });

    // An older batch among the last five is still a duplicate.
    expect(await produceRaw(client, topic, batch(['a0', 'a1', 'a2'], 0, 0))).toMatchObject({
      errorCode: NONE,
      baseOffset: 0,
    });

    // A gap in the sequence.
    const gap = await produceRaw(client, topic, batch(['gap'], 0, 9));
    expect(gap.errorCode).toBe(OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect(gap.baseOffset).toBe(-1);
    expect(await values()).toEqual(['a0', 'a1', 'a2', 'b3', 'b4']);

    // Epoch bump (KIP-360 style: the producer presents its id and epoch).
    const bumped = await initProducerId({ producerId, producerEpoch: 0 });
    expect(bumped).toMatchObject({ producerId, producerEpoch: 1 });
    const c = await produceRaw(client, topic, batch(['c5'], 1, 0));
    expect(c).toMatchObject({ errorCode: NONE, baseOffset: 5 });
    const stale = await produceRaw(client, topic, batch(['stale'], 0, 5));
    expect(stale.errorCode).toBe(INVALID_PRODUCER_EPOCH);
    expect(await values()).toEqual(['a0', 'a1', 'a2', 'b3', 'b4', 'c5']);

    // The producer state is committed with the data: it survives kill -9.
    await client.close();
    await broker.kill9();
    await broker.relaunch();
    client = await WireClient.connect(broker.port);
    const retried = await produceRaw(client, topic, batch(['c5'], 1, 0));
    expect(retried).toMatchObject({ errorCode: NONE, baseOffset: 5 });
    expect((await produceRaw(client, topic, batch(['stale'], 0, 5))).errorCode).toBe(
      INVALID_PRODUCER_EPOCH,
    );
    expect((await produceRaw(client, topic, batch(['gap'], 1, 7))).errorCode).toBe(
      OUT_OF_ORDER_SEQUENCE_NUMBER,
    );
    expect(await produceRaw(client, topic, batch(['d6', 'd7'], 1, 1))).toMatchObject({
      errorCode: NONE,
      baseOffset: 6,
    });
    expect(await values()).toEqual(['a0', 'a1', 'a2', 'b3', 'b4', 'c5', 'd6', 'd7']);
  });
});

// -- 4. object storage and etcd outages, 5. bucket layout ---------------------------------------

describe('outages of object storage and etcd, then the bucket layout (etcd, fault proxy, s3rver)', () => {
  const namespace = 'tenant-a/kafscale';
  let etcd: EtcdServer;
  let s3: S3rver;
  let proxy: FaultProxy;
  let broker: BrokerProcess;
  let client: WireClient;

  beforeAll(async () => {
    [etcd, s3] = await Promise.all([EtcdServer.start(), startS3rver('outage')]);
    proxy = await FaultProxy.start(s3.endpoint);
    broker = await BrokerProcess.start({
      env: {
        KAFSCALE_ETCD_ENDPOINTS: etcd.endpoint,
        KAFSCALE_S3_BUCKET: s3.bucket,
        KAFSCALE_S3_ENDPOINT: proxy.endpoint,
        KAFSCALE_S3_PATH_STYLE: 'true',
        KAFSCALE_S3_ACCESS_KEY: s3.credentials.accessKeyId,
        KAFSCALE_S3_SECRET_KEY: s3.credentials.secretAccessKey,
        KAFSCALE_S3_NAMESPACE: namespace,
      },
    });
    client = await WireClient.connect(broker.port);
  });
  afterEach(() => {
    // A failed or crashed broker explains itself here.
    if (!alive(broker?.pid))
      console.log(`broker is gone; its output:\n${broker?.output.slice(-6000)}`);
  });
  afterAll(async () => {
    await client?.close();
    await broker?.destroy();
    await proxy?.close();
    await Promise.all([etcd?.destroy(), s3?.stop()]);
  });

  /** Values acknowledged per topic, by offset. */
  const acknowledged = new Map<string, string[]>();

  /** Waits for /readyz to answer 200 (object storage judged available again). */
  async function untilReady(b: BrokerProcess): Promise<void> {
    const deadline = Date.now() + 30_000;
    while ((await probe(b.metricsPort!, '/readyz')).status !== 200) {
      if (Date.now() > deadline) throw new Error('broker not ready 30 s after the S3 outages');
      await sleep(200);
    }
  }

  async function produceGood(topic: string, value: string): Promise<void> {
    const response = await produceRaw(client, topic, batchOf([value]));
    expect(response).toMatchObject({ errorCode: NONE });
    const list = acknowledged.get(topic) ?? [];
    expect(response.baseOffset).toBe(list.length);
    list.push(value);
    acknowledged.set(topic, list);
  }

  async function expectExactlyAcknowledged(topic: string): Promise<void> {
    const { records } = await fetchAll(client, topic);
    expect(records).toEqual(
      (acknowledged.get(topic) ?? []).map((value, offset) => ({ offset, value })),
    );
  }

  test('object storage failing: produce gets KAFKA_STORAGE_ERROR, never an acknowledgement; heals', async () => {
    const topic = 's3-outage';
    await createTopic(client, topic);
    for (let i = 0; i < 3; i++) await produceGood(topic, `before-${i}`);

    proxy.failRate = 1;
    const started = Date.now();
    const failed = await Promise.all(
      [0, 1, 2].map((i) => produceRaw(client, topic, batchOf([`during-${i}`]))),
    );
    const failedAfterMs = Date.now() - started;
    for (const response of failed) {
      expect(response.errorCode).toBe(KAFKA_STORAGE_ERROR);
      expect(response.baseOffset).toBe(-1);
    }
    expect(failedAfterMs).toBeLessThan(30_000);
    // Committed data is still served while the store is down (it is in the cache).
    await expectExactlyAcknowledged(topic);
    const requestsDuringOutage = proxy.stats.failed;

    proxy.heal();
    const healedAt = Date.now();
    // The broker refuses produce (retriably) until its health probes see the store back.
    let refusedAfterHeal = 0;
    for (;;) {
      const response = await produceRaw(client, topic, batchOf(['after-0']));
      if (response.errorCode === NONE) {
        expect(response.baseOffset).toBe(acknowledged.get(topic)!.length);
        acknowledged.get(topic)!.push('after-0');
        break;
      }
      expect(response.errorCode).toBe(KAFKA_STORAGE_ERROR);
      expect(Date.now() - healedAt).toBeLessThan(15_000);
      refusedAfterHeal++;
      await sleep(200);
    }
    const recoveredMs = Date.now() - healedAt;
    await produceGood(topic, 'after-1');
    await expectExactlyAcknowledged(topic);
    findings.push(
      `S3 failing (all requests 503): 3 pipelined acks=all produces answered ` +
        `${failed.map((r) => r.errorCode).join(',')} after ${failedAfterMs} ms ` +
        `(${requestsDuringOutage} S3 requests failed); first produce after heal acknowledged in ` +
        `${recoveredMs} ms (${refusedAfterHeal} refused retriably before); log holds exactly the ${acknowledged.get(topic)!.length} acknowledged records`,
    );
  });

  test('object storage failing under a real idempotent producer: retries, nothing acknowledged is lost', async () => {
    const topic = 's3-outage-stream';
    await createTopic(client, topic);
    const count = 3000;
    const producer = new StreamProducer(broker.bootstrap, topic, count, true);
    try {
      await producer.ackedAtLeast(300);
      proxy.failRate = 1;
      await sleep(3000);
      const ackedDuringHardOutage = producer.acked.size;
      proxy.failRate = 0.3;
      await sleep(3000);
      proxy.heal();
      const exit = await producer.finished(150_000);
      const consumed = consumeAll(broker.bootstrap, topic);
      checkLog(consumed, producer.acked, true);
      findings.push(
        `S3 outage under librdkafka idempotent stream: ${producer.acked.size}/${count} acked ` +
          `(${ackedDuringHardOutage} by the end of the 3 s hard outage), ${producer.errors.length} ` +
          `delivery errors, ${consumed.length} consumed, exit ${exit}`,
      );
      expect(exit).toBe(0);
      expect(producer.errors).toEqual([]);
      expect(producer.acked.size).toBe(count);
      expect(consumed).toHaveLength(count);
    } finally {
      producer.kill();
    }
  }, 120_000);

  test('etcd down briefly: a pending commit completes once etcd is back; opening a partition fails retriably', async () => {
    const topic = 'etcd-blip';
    const fresh = 'etcd-blip-fresh'; // created, never produced to: its log is not open yet
    await createTopic(client, topic);
    await createTopic(client, fresh);
    // The object-store outages before this test leave failed requests in the S3 health window,
    // which can still refuse produce for a while (seen under load in a full run): this test is
    // about etcd, so it starts once the broker is ready again.
    await untilReady(broker);
    await produceGood(topic, 'before');
    const other = await WireClient.connect(broker.port);
    try {
      await etcd.stop();
      const started = Date.now();
      const pending = produceRaw(client, topic, batchOf(['during-blip']));
      const opening = await produceRaw(other, fresh, batchOf(['fresh']));
      const openingMs = Date.now() - started;
      await sleep(Math.max(0, 2000 - openingMs));
      await etcd.restart();
      const response = await pending;
      const answeredMs = Date.now() - started;
      findings.push(
        `etcd down ${openingMs > 2000 ? openingMs : 2000} ms: the produce whose commit was pending answered ` +
          `${response.errorCode} (base offset ${response.baseOffset}) ${answeredMs} ms after it was sent; ` +
          `a produce that had to open its partition answered ${opening.errorCode} after ${openingMs} ms ` +
          `(${opening.errorMessage})`,
      );
      if (response.errorCode === NONE) {
        expect(response.baseOffset).toBe(1);
        acknowledged.get(topic)!.push('during-blip');
      }
      expect(RETRIABLE).toContain(opening.errorCode);
      await produceGood(topic, 'after');
      await expectExactlyAcknowledged(topic);
    } finally {
      await other.close();
    }
  });

  test('etcd down: produce gets a retriable error within a bounded time, no crash', async () => {
    const topic = 'etcd-outage';
    await createTopic(client, topic);
    await produceGood(topic, 'before-0');
    await produceGood(topic, 'before-1');

    await etcd.stop();
    const started = Date.now();
    const first = await produceRaw(client, topic, batchOf(['during-0']));
    const firstMs = Date.now() - started;
    const second = Date.now();
    const next = await produceRaw(client, topic, batchOf(['during-1']));
    const nextMs = Date.now() - second;
    findings.push(
      `etcd stopped: the first acks=all produce (commit pending) answered ${first.errorCode} ` +
        `after ${firstMs} ms; the next one answered ${next.errorCode} after ${nextMs} ms ` +
        `(${next.errorMessage}); broker alive: ${alive(broker.pid)}`,
    );
    expect(first.errorCode).toBe(REQUEST_TIMED_OUT);
    expect(firstMs).toBeLessThan(45_000);
    // Later produces cannot even open the partition; the answer must still be retriable.
    expect(RETRIABLE).toContain(next.errorCode);
    expect(nextMs).toBeLessThan(45_000);
    expect(alive(broker.pid)).toBe(true);
    expect(client.isOpen).toBe(true);
    await etcd.restart();
  }, 90_000);

  // After an outage longer than the lease TTL the broker lost its registration: it must
  // register again under a new lease and lead its partitions again by itself.
  test('etcd back after an outage longer than the broker lease: the broker recovers by itself', async () => {
    const topic = 'etcd-outage';
    const restarted = Date.now();
    const codes: number[] = [];
    let recovered: ProduceResponsePartitionProduceResponse | undefined;
    while (!recovered && Date.now() - restarted < 15_000) {
      const r = await produceRaw(client, topic, batchOf(['recovered']));
      if (r.errorCode === NONE) recovered = r;
      else codes.push(r.errorCode);
      await sleep(250);
    }
    findings.push(
      `etcd restarted: ${recovered ? `produce succeeded after ${Date.now() - restarted} ms` : 'no recovery within 15 s'}; ` +
        `codes meanwhile: ${[...new Set(codes)].join(',') || 'none'}`,
    );
    expect(recovered).toBeDefined();
    expect(recovered!.baseOffset).toBe(acknowledged.get(topic)!.length);
    acknowledged.get(topic)!.push('recovered');
  }, 30_000);

  test('after the etcd outage and a broker restart, everything acknowledged is intact', async () => {
    await client.close();
    await broker.kill9();
    const killed = Date.now();
    await broker.relaunch();
    client = await WireClient.connect(broker.port);
    // The previous incarnation's leadership keys may still be held until its lease expires.
    let response: ProduceResponsePartitionProduceResponse | undefined;
    while (Date.now() - killed < 30_000) {
      response = await produceRaw(client, 'etcd-outage', batchOf(['after-restart']));
      if (response.errorCode === NONE || ![...RETRIABLE, 5].includes(response.errorCode)) break;
      await sleep(250);
    }
    findings.push(
      `broker kill -9 + relaunch after the etcd outage: produce answered ${response!.errorCode} ` +
        `${Date.now() - killed} ms after the kill`,
    );
    expect(response).toMatchObject({ errorCode: NONE });
    expect(response!.baseOffset).toBe(acknowledged.get('etcd-outage')!.length);
    acknowledged.get('etcd-outage')!.push('after-restart');
    for (const t of acknowledged.keys()) await expectExactlyAcknowledged(t);
  }, 60_000);

  test('bucket layout: keys and .kfs/.index objects parse per docs/storage-format.md', async () => {
    const topic = 'layout';
    await createTopic(client, topic);
    // Batches of several sizes; pipelined requests share a flush window, so a segment holds
    // several batches and the index several entries.
    const sent: { bytes: Buffer; baseOffset: number }[] = [];
    for (let round = 0; round < 4; round++) {
      const batches = Array.from({ length: 6 }, (_, i) =>
        buildRecordBatch(
          Array.from({ length: 1 + ((round + i) % 4) }, (_, r) => ({
            key: Buffer.from(`k${round}-${i}-${r}`),
            value: Buffer.alloc(200 + 700 * ((i + r) % 5), `${round}${i}${r}`),
          })),
        ),
      );
      const responses = await Promise.all(
        batches.map((b) => produceRaw(client, topic, Buffer.from(b))),
      );
      responses.forEach((r, i) => {
        expect(r.errorCode).toBe(NONE);
        sent.push({ bytes: batches[i], baseOffset: r.baseOffset });
      });
    }

    // Stop the broker gracefully first (it waits for a compaction pass in flight): background
    // compaction and the orphan sweeper would otherwise write and delete objects while the bucket
    // is read, and s3rver, unlike S3, shows an object being uploaded with its bytes so far.
    await client.close();
    expect(await broker.stop()).toBe(0);

    // The manifests in etcd say which objects are committed: every committed segment has both
    // objects (or both ranges of one packed object), and they agree with the manifest entry.
    // Anything else is garbage of a failed flush or of compaction.
    const store = new EtcdMetadataStore({ endpoints: [etcd.endpoint] });
    const metadata = await ClusterMetadata.open(store, 'default');
    const manifests = new Map<string, SegmentRecord[]>();
    try {
      for (const t of [...acknowledged.keys(), 's3-outage-stream', topic]) {
        manifests.set(t, await metadata.readSegments(t, 0));
      }
    } finally {
      await metadata.close();
      await store.close();
    }
    const s3client = new S3Client({
      region: s3.region,
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: s3.credentials,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const objects = new Map<string, Buffer>();
    try {
      let token: string | undefined;
      do {
        const page = await s3client.send(
          new ListObjectsV2Command({ Bucket: s3.bucket, ContinuationToken: token }),
        );
        for (const o of page.Contents ?? []) {
          const got = await s3client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: o.Key! }));
          objects.set(o.Key!, Buffer.from(await got.Body!.transformToByteArray()));
        }
        token = page.NextContinuationToken;
      } while (token);
    } finally {
      s3client.destroy();
    }

    // Every object in the bucket is a per-partition segment or index, or a packed object holding
    // several partitions' segments and indexes (docs/storage-format.md, "Packed objects").
    // Per-partition objects parse on their own (uploads are whole objects, committed or not).
    const ns = namespace.replace(/[./-]/g, '\\$&');
    const keyPattern = new RegExp(
      `^${ns}/([a-zA-Z0-9._-]+)/(0|[1-9]\\d*)/segment-(\\d{20})-([a-z0-9-]{1,64})\\.(kfs|index)$`,
    );
    const packedPattern = new RegExp(`^${ns}/_packed/([a-z0-9-]{1,64})/(\\d{20})\\.kfs$`);
    const segments = new Map<string, ParsedSegment>();
    const indexes = new Map<string, ParsedIndex>();
    let packedObjects = 0;
    for (const [key, bytes] of objects) {
      if (packedPattern.test(key)) {
        packedObjects++;
        continue; // its parts are found through the manifest entries below
      }
      const m = keyPattern.exec(key);
      expect({ key, matches: m !== null }).toEqual({ key, matches: true });
      if (m![5] === 'kfs') {
        const segment = parseSegment(bytes);
        expect(segment.baseOffset).toBe(Number(m![3]));
        segments.set(key, segment);
      } else {
        const index = parseIndex(bytes);
        expect(index.entries[0].offset).toBe(Number(m![3]));
        indexes.set(key, index);
      }
    }
    let paired = 0;
    for (const [key, segment] of segments) {
      const index = indexes.get(key.replace(/\.kfs$/, '.index'));
      if (!index) continue; // garbage of a failed upload: the .index PUT failed
      checkIndex(index, segment);
      paired++;
    }

    const committed = new Set<string>();
    const parsed = new Map<SegmentRecord, ParsedSegment>();
    let packedEntries = 0;
    for (const [t, entries] of manifests) {
      expect(entries.length).toBeGreaterThan(0);
      let next = 0;
      for (const entry of entries) {
        let segment: ParsedSegment | undefined;
        if (entry.segmentStart === undefined) {
          expect(entry.key.startsWith(`${namespace}/${t}/0/segment-`)).toBe(true);
          expect(entry.indexKey).toBe(entry.key.replace(/\.kfs$/, '.index'));
          segment = segments.get(entry.key);
          expect({ key: entry.key, stored: !!segment, index: indexes.has(entry.indexKey) }).toEqual(
            { key: entry.key, stored: true, index: true },
          );
          expect(entry).toMatchObject({ dataStart: 32, dataEnd: segment!.size - 16 });
        } else {
          // A packed entry: its segment and index are byte ranges of one shared object.
          packedEntries++;
          expect(entry.key).toMatch(packedPattern);
          expect(entry.indexKey).toBe(entry.key);
          const packed = objects.get(entry.key);
          expect({ key: entry.key, stored: !!packed }).toEqual({ key: entry.key, stored: true });
          segment = parseSegment(packed!.subarray(entry.segmentStart, entry.segmentEnd));
          checkIndex(parseIndex(packed!.subarray(entry.indexStart, entry.indexEnd)), segment);
          expect(entry).toMatchObject({
            dataStart: entry.segmentStart + 32,
            dataEnd: entry.segmentEnd! - 16,
          });
        }
        expect(entry).toMatchObject({
          baseOffset: segment!.baseOffset,
          lastOffset: segment!.lastOffset,
        });
        parsed.set(entry, segment!);
        expect(entry.baseOffset).toBe(next); // the manifest covers the log without gaps
        next = entry.lastOffset + 1;
        committed.add(entry.key).add(entry.indexKey);
      }
    }
    const garbage = [...objects.keys()].filter((k) => !committed.has(k));

    // The layout topic had no faults: its own objects are exactly its manifest, and its batches
    // are the produced bytes with the offset and leader epoch the broker assigned.
    const manifest = manifests.get(topic)!;
    expect(garbage.filter((k) => k.startsWith(`${namespace}/${topic}/`))).toEqual([]);
    const stored: Buffer[] = [];
    for (const entry of manifest) stored.push(...parsed.get(entry)!.batches.map((b) => b.bytes));
    expect(manifest.length).toBeGreaterThan(1);
    expect(manifest.length).toBeLessThan(sent.length); // pipelined batches were grouped
    sent.sort((a, b) => a.baseOffset - b.baseOffset);
    expect(stored).toHaveLength(sent.length);
    stored.forEach((bytes, i) => {
      const expected = Buffer.from(sent[i].bytes);
      expected.writeBigInt64BE(BigInt(sent[i].baseOffset), 0);
      expected.writeInt32BE(bytes.readInt32BE(12), 12); // the leader epoch the broker stamped
      expect(bytes.readInt32BE(12)).toBeGreaterThanOrEqual(0);
      expect(bytes.equals(expected)).toBe(true);
    });
    findings.push(
      `bucket: ${objects.size} objects (${segments.size} .kfs, ${indexes.size} .index, ${paired} ` +
        `pairs checked, ${packedObjects} packed holding ${packedEntries} committed segments), ` +
        `${committed.size} committed, ${garbage.length} garbage of failed flushes; ` +
        `layout topic: ${sent.length} batches in ${manifest.length} committed segments, byte-identical`,
    );
  });
});

// -- a reader written only from docs/storage-format.md ------------------------------------------

interface ParsedBatch {
  position: number;
  baseOffset: number;
  lastOffset: number;
  recordCount: number;
  bytes: Buffer;
}

interface ParsedSegment {
  size: number;
  baseOffset: number;
  messageCount: number;
  createdAt: number;
  lastOffset: number;
  batches: ParsedBatch[];
}

function parseSegment(buf: Buffer): ParsedSegment {
  const size = buf.length;
  expect(size).toBeGreaterThanOrEqual(48);
  expect(buf.subarray(0, 4).toString('latin1')).toBe('KAFS');
  expect(buf.readUInt16BE(4)).toBe(1);
  expect(buf.readUInt16BE(6)).toBe(0);
  const baseOffset = Number(buf.readBigInt64BE(8));
  const messageCount = buf.readInt32BE(16);
  const createdAt = Number(buf.readBigInt64BE(20));
  expect(buf.readUInt32BE(28)).toBe(0);
  expect(buf.subarray(size - 4).toString('latin1')).toBe('END!');
  expect(buf.readUInt32BE(size - 16)).toBe(crc32(buf.subarray(32, size - 16)));
  const lastOffset = Number(buf.readBigInt64BE(size - 12));
  expect(Math.abs(createdAt - Date.now())).toBeLessThan(600_000);

  const batches: ParsedBatch[] = [];
  let p = 32;
  while (p < size - 16) {
    const length = 12 + buf.readInt32BE(p + 8);
    expect(p + length).toBeLessThanOrEqual(size - 16);
    const bytes = buf.subarray(p, p + length);
    expect(bytes.readInt8(16)).toBe(2);
    expect(bytes.readUInt32BE(17)).toBe(crc32c(bytes.subarray(21)));
    const batchBase = Number(bytes.readBigInt64BE(0));
    const lastDelta = bytes.readInt32BE(23);
    const recordCount = bytes.readInt32BE(57);
    expect(recordCount).toBe(lastDelta + 1);
    if (batches.length) expect(batchBase).toBe(batches[batches.length - 1].lastOffset + 1);
    batches.push({
      position: p,
      baseOffset: batchBase,
      lastOffset: batchBase + lastDelta,
      recordCount,
      bytes,
    });
    p += length;
  }
  expect(p).toBe(size - 16);
  expect(batches.length).toBeGreaterThan(0);
  expect(batches[0].baseOffset).toBe(baseOffset);
  expect(batches.reduce((n, b) => n + b.recordCount, 0)).toBe(messageCount);
  expect(batches[batches.length - 1].lastOffset).toBe(lastOffset);
  return { size, baseOffset, messageCount, createdAt, lastOffset, batches };
}

interface ParsedIndex {
  interval: number;
  entries: { offset: number; position: number }[];
}

function parseIndex(buf: Buffer): ParsedIndex {
  expect(buf.subarray(0, 4).equals(Buffer.from([0x49, 0x44, 0x58, 0x00]))).toBe(true);
  expect(buf.readUInt16BE(4)).toBe(1);
  const count = buf.readInt32BE(6);
  const interval = buf.readInt32BE(10);
  expect(buf.readUInt16BE(14)).toBe(0);
  expect(count).toBeGreaterThanOrEqual(1);
  expect(buf.length).toBe(16 + 12 * count);
  const entries = Array.from({ length: count }, (_, i) => ({
    offset: Number(buf.readBigInt64BE(16 + 12 * i)),
    position: buf.readInt32BE(24 + 12 * i),
  }));
  return { interval, entries };
}

function checkIndex(index: ParsedIndex, segment: ParsedSegment): void {
  const batchAt = new Map(segment.batches.map((b) => [b.position, b]));
  expect(index.entries[0]).toEqual({ offset: segment.baseOffset, position: 32 });
  for (let i = 0; i < index.entries.length; i++) {
    const e = index.entries[i];
    expect(batchAt.get(e.position)?.baseOffset).toBe(e.offset);
    if (i > 0) {
      expect(e.offset).toBeGreaterThan(index.entries[i - 1].offset);
      expect(e.position).toBeGreaterThan(index.entries[i - 1].position);
    }
  }
  // The writer's rule: a batch is indexed when at least `interval` bytes of batch data lie
  // between the previous entry and its start.
  const indexed = new Set(index.entries.map((e) => e.position));
  let previous = 32;
  for (const b of segment.batches.slice(1)) {
    expect({ position: b.position, indexed: indexed.has(b.position) }).toEqual({
      position: b.position,
      indexed: b.position - previous >= index.interval,
    });
    if (indexed.has(b.position)) previous = b.position;
  }
}
