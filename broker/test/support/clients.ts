// Real Kafka clients for tests: produce and consume with kcat (librdkafka), kafka-python and
// confluent-kafka (librdkafka) driven through /usr/bin/python3, and kafkajs and
// @platformatic/kafka in process. Every helper speaks the same record shape so tests compare the
// bytes a client wrote with the bytes another client read, exactly.
//
// The Python clients run small inline scripts (`python3 -c`) that read one JSON job from stdin and
// print JSON; keys, values and header values travel base64-encoded, so any byte survives.
// Consumers never join a group (the broker has no group coordinator yet): they assign partitions
// explicitly, snapshot the end offsets with ListOffsets first, and read until they reach them.

import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import {
  Producer as PlatformaticProducer,
  compatibilityPartitioner,
  type CompressionAlgorithmValue,
  type MessageToProduce,
} from '@platformatic/kafka';
import {
  CompressionTypes,
  Kafka,
  Partitioners,
  logLevel,
  type Message as KafkajsMessage,
  type RecordMetadata,
} from 'kafkajs';

export const PYTHON = '/usr/bin/python3';
export const KCAT = '/usr/bin/kcat';

export type Codec = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
export type ProducerClient =
  'kcat' | 'kafka-python' | 'confluent-kafka' | 'kafkajs' | 'platformatic';
export type ConsumerClient = 'kcat' | 'kafka-python' | 'confluent-kafka';

/** Codecs each producer supports out of the box here (no extra codec packages installed). */
export const PRODUCER_CODECS: Record<ProducerClient, Codec[]> = {
  kcat: ['none', 'gzip', 'snappy', 'lz4', 'zstd'],
  'confluent-kafka': ['none', 'gzip', 'snappy', 'lz4', 'zstd'],
  // Debian's python3-kafka comes without python3-snappy/lz4/zstandard.
  'kafka-python': ['none', 'gzip'],
  // kafkajs ships gzip only; the others need external codec packages.
  kafkajs: ['none', 'gzip'],
  // zstd needs zlib.zstdCompressSync (Node >= 22.15); this is Node 20.
  platformatic: ['none', 'gzip', 'snappy', 'lz4'],
};

/** Codecs each consumer can decompress. */
export const CONSUMER_CODECS: Record<ConsumerClient, Codec[]> = {
  kcat: ['none', 'gzip', 'snappy', 'lz4', 'zstd'],
  'confluent-kafka': ['none', 'gzip', 'snappy', 'lz4', 'zstd'],
  'kafka-python': ['none', 'gzip'],
};

export type Header = [name: string, value: Buffer | null];

/** A record to produce. Without a partition the client's own partitioner picks one. */
export interface OutgoingRecord {
  topic: string;
  partition?: number;
  key: Buffer | null;
  value: Buffer | null;
  headers?: Header[];
  /** CreateTime in ms; the client's clock when absent. */
  timestamp?: number;
}

/** Where the producer was told its record landed. */
export interface Delivery {
  topic: string;
  partition: number;
  offset: number;
}

/** A record as a consumer read it. */
export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Header[];
  timestamp: number;
}

export interface ProduceOptions {
  compression?: Codec;
  /** kafkajs `idempotent: true`, confluent-kafka/kcat `enable.idempotence=true`. */
  idempotent?: boolean;
  /** Client-specific extra settings (librdkafka properties, kafka-python keyword arguments). */
  config?: Record<string, string | number | boolean>;
  timeoutMs?: number;
}

export interface ConsumeOptions {
  /** Partitions to read; all partitions of the topic when absent. */
  partitions?: number[];
  /** Where to start: earliest (default), latest, or the first offset with timestamp >= ms. */
  start?: 'earliest' | 'latest' | { timestamp: number };
  config?: Record<string, string | number | boolean>;
  timeoutMs?: number;
}

export interface ConsumeResult {
  records: ConsumedRecord[];
  /** Offset each partition started at (after a timestamp lookup: its result), "topic/partition" -> offset. */
  start: Map<string, number>;
  /** High watermark each partition was read up to. */
  end: Map<string, number>;
}

/** The largest record batch the broker accepts by default (max.message.bytes). */
export const MAX_MESSAGE_BYTES = 1048588;

const b64 = (b: Buffer | null): string | null => (b === null ? null : b.toString('base64'));
const unb64 = (s: string | null): Buffer | null => (s === null ? null : Buffer.from(s, 'base64'));

interface RunResult {
  stdout: Buffer;
  stderr: string;
}

function run(
  file: string,
  args: string[],
  input: Buffer | string,
  timeoutMs: number,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      {
        encoding: 'buffer',
        maxBuffer: 512 * 1024 * 1024,
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
      },
      (error, stdout, stderr) => {
        if (error) {
          const name = file === PYTHON ? 'python3' : file;
          reject(
            new Error(
              `${name} failed (${error.code ?? error.signal ?? error.message}):\n${stderr.toString().slice(-4000)}`,
            ),
          );
        } else {
          resolve({ stdout, stderr: stderr.toString() });
        }
      },
    );
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(input);
  });
}

// ---------------------------------------------------------------------------------------------
// Python scripts

const KAFKA_PYTHON_PRODUCE = `
import sys, json, base64, logging
logging.basicConfig(level=logging.CRITICAL)
from kafka import KafkaProducer
job = json.load(sys.stdin)
d = lambda s: None if s is None else base64.b64decode(s)
p = KafkaProducer(bootstrap_servers=job['bootstrap'], **job['config'])
futures = [p.send(r['topic'], key=d(r['key']), value=d(r['value']), partition=r.get('partition'),
                  headers=[(h[0], d(h[1])) for h in r['headers']], timestamp_ms=r.get('timestamp'))
           for r in job['records']]
p.flush()
out = []
for f in futures:
    m = f.get(timeout=30)
    out.append({'topic': m.topic, 'partition': m.partition, 'offset': m.offset})
p.close()
print(json.dumps(out))
`;

const KAFKA_PYTHON_CONSUME = `
import sys, json, base64, time, logging
logging.basicConfig(level=logging.CRITICAL)
from kafka import KafkaConsumer, TopicPartition
job = json.load(sys.stdin)
e = lambda b: None if b is None else base64.b64encode(b).decode()
c = KafkaConsumer(bootstrap_servers=job['bootstrap'], group_id=None, enable_auto_commit=False,
                  **job['config'])
tps = []
for t in job['topics']:
    parts = t.get('partitions')
    if parts is None:
        deadline = time.time() + 10
        ps = None
        while not ps and time.time() < deadline:
            ps = c.partitions_for_topic(t['topic'])
            if not ps:
                c._client.cluster.request_update()
                c._client.poll(timeout_ms=100)
        parts = sorted(ps or [])
    tps += [TopicPartition(t['topic'], p) for p in parts]
c.assign(tps)
end = c.end_offsets(tps)
start = job['start']
if start == 'earliest':
    c.seek_to_beginning()
elif start == 'latest':
    c.seek_to_end()
else:
    found = c.offsets_for_times({tp: start['timestamp'] for tp in tps})
    for tp in tps:
        c.seek(tp, found[tp].offset if found[tp] is not None else end[tp])
print(json.dumps({'end': [[tp.topic, tp.partition, end[tp]] for tp in tps],
                  'start': [[tp.topic, tp.partition, c.position(tp)] for tp in tps]}))
deadline = time.time() + job['timeout']
while any(c.position(tp) < end[tp] for tp in tps):
    if time.time() > deadline:
        sys.exit('timed out: ' + repr({str(tp): (c.position(tp), end[tp]) for tp in tps}))
    for tp, msgs in c.poll(timeout_ms=200).items():
        for m in msgs:
            if m.offset < end[tp]:
                print(json.dumps({'topic': m.topic, 'partition': m.partition, 'offset': m.offset,
                    'timestamp': m.timestamp, 'key': e(m.key), 'value': e(m.value),
                    'headers': [[k, e(v)] for k, v in m.headers]}))
c.close()
`;

const CONFLUENT_PRODUCE = `
import sys, json, base64
from confluent_kafka import Producer
job = json.load(sys.stdin)
d = lambda s: None if s is None else base64.b64decode(s)
errors = []
p = Producer({'bootstrap.servers': job['bootstrap'], **job['config']},
             error_cb=lambda err: errors.append(str(err)))
out = [None] * len(job['records'])
def report(i):
    def cb(err, msg):
        out[i] = ({'error': str(err)} if err else
                  {'topic': msg.topic(), 'partition': msg.partition(), 'offset': msg.offset()})
    return cb
for i, r in enumerate(job['records']):
    kw = {}
    if r.get('partition') is not None: kw['partition'] = r['partition']
    if r.get('timestamp') is not None: kw['timestamp'] = r['timestamp']
    while True:
        try:
            p.produce(r['topic'], value=d(r['value']), key=d(r['key']),
                      headers=[(h[0], d(h[1])) for h in r['headers']], on_delivery=report(i), **kw)
            break
        except BufferError:
            p.poll(0.05)
    p.poll(0)
left = p.flush(job['timeout'])
if left: sys.exit(f'{left} records not delivered; errors: {errors}')
bad = [o for o in out if 'error' in o]
if bad: sys.exit(f'delivery failed: {bad[:3]}; errors: {errors}')
print(json.dumps(out))
`;

const CONFLUENT_CONSUME = `
import sys, json, base64, time
from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING, OFFSET_END
job = json.load(sys.stdin)
e = lambda b: None if b is None else base64.b64encode(b).decode()
errors = []
# librdkafka insists on a group.id; with assign() and explicit offsets it never needs the coordinator.
c = Consumer({'bootstrap.servers': job['bootstrap'], 'group.id': 'kafscale-test-unused',
              'enable.auto.commit': False, 'enable.auto.offset.store': False, 'check.crcs': True,
              **job['config']}, error_cb=lambda err: errors.append(str(err)))
tps = []
for t in job['topics']:
    parts = t.get('partitions')
    if parts is None:
        md = c.list_topics(t['topic'], timeout=10)
        parts = sorted(md.topics[t['topic']].partitions.keys())
    tps += [TopicPartition(t['topic'], p) for p in parts]
end = {(tp.topic, tp.partition): c.get_watermark_offsets(tp, timeout=10)[1] for tp in tps}
start = job['start']
if start == 'earliest':
    for tp in tps: tp.offset = OFFSET_BEGINNING
elif start == 'latest':
    for tp in tps: tp.offset = end[(tp.topic, tp.partition)]
else:
    tps = c.offsets_for_times([TopicPartition(tp.topic, tp.partition, start['timestamp']) for tp in tps],
                              timeout=10)
    for tp in tps:
        if tp.offset < 0: tp.offset = end[(tp.topic, tp.partition)]
print(json.dumps({'end': [[t, p, o] for (t, p), o in end.items()],
                  'start': [[tp.topic, tp.partition, max(tp.offset, 0)] for tp in tps]}))
pos = {(tp.topic, tp.partition): max(tp.offset, 0) for tp in tps}
c.assign(tps)
deadline = time.time() + job['timeout']
while any(pos[k] < end[k] for k in end):
    if time.time() > deadline: sys.exit(f'timed out at {pos} of {end}; errors: {errors}')
    m = c.poll(0.2)
    if m is None: continue
    if m.error():
        errors.append(str(m.error()))
        continue
    k = (m.topic(), m.partition())
    pos[k] = m.offset() + 1
    if m.offset() < end[k]:
        print(json.dumps({'topic': m.topic(), 'partition': m.partition(), 'offset': m.offset(),
            'timestamp': m.timestamp()[1], 'key': e(m.key()), 'value': e(m.value()),
            'headers': [[k2, e(v)] for k2, v in (m.headers() or [])]}))
c.close()
`;

interface PythonRecordJson {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  headers: [string, string | null][];
}

function recordsJson(records: OutgoingRecord[]) {
  return records.map((r) => ({
    topic: r.topic,
    partition: r.partition ?? null,
    key: b64(r.key),
    value: b64(r.value),
    headers: (r.headers ?? []).map(([name, value]) => [name, b64(value)]),
    timestamp: r.timestamp ?? null,
  }));
}

async function runPythonProducer(
  script: string,
  bootstrap: string,
  records: OutgoingRecord[],
  config: Record<string, unknown>,
  timeoutMs: number,
): Promise<Delivery[]> {
  const job = { bootstrap, config, records: recordsJson(records), timeout: timeoutMs / 1000 };
  const { stdout } = await run(PYTHON, ['-c', script], JSON.stringify(job), timeoutMs + 10_000);
  return JSON.parse(stdout.toString()) as Delivery[];
}

async function runPythonConsumer(
  script: string,
  bootstrap: string,
  topics: string[],
  options: ConsumeOptions,
  config: Record<string, unknown>,
): Promise<ConsumeResult> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const job = {
    bootstrap,
    config,
    topics: topics.map((topic) => ({ topic, partitions: options.partitions ?? null })),
    start: options.start ?? 'earliest',
    timeout: timeoutMs / 1000,
  };
  const { stdout } = await run(PYTHON, ['-c', script], JSON.stringify(job), timeoutMs + 10_000);
  const lines = stdout.toString().split('\n').filter(Boolean);
  const first = JSON.parse(lines.shift()!) as {
    end: [string, number, number][];
    start: [string, number, number][];
  };
  const records = lines.map((line) => {
    const r = JSON.parse(line) as PythonRecordJson;
    return {
      topic: r.topic,
      partition: r.partition,
      offset: r.offset,
      key: unb64(r.key),
      value: unb64(r.value),
      headers: r.headers.map(([name, value]): Header => [name, unb64(value)]),
      timestamp: r.timestamp,
    };
  });
  return {
    records: sortRecords(records),
    start: new Map(first.start.map(([t, p, o]) => [`${t}/${p}`, o])),
    end: new Map(first.end.map(([t, p, o]) => [`${t}/${p}`, o])),
  };
}

// ---------------------------------------------------------------------------------------------
// kcat

/** A delimiter for kcat -D/-K that occurs in none of the given buffers. */
function delimiter(buffers: Buffer[]): Buffer {
  for (;;) {
    // No NUL: kcat takes the delimiter from a C string.
    const candidate = Buffer.from([...crypto.randomBytes(6)].map((b) => b | 0x80));
    if (!buffers.some((b) => b.includes(candidate))) return candidate;
  }
}

const kcatEscape = (b: Buffer) =>
  [...b].map((x) => `\\x${x.toString(16).padStart(2, '0')}`).join('');

function librdkafkaConfig(options: ProduceOptions): Record<string, string> {
  const config: Record<string, string> = {
    'message.max.bytes': String(MAX_MESSAGE_BYTES),
    'linger.ms': '5',
    partitioner: 'murmur2_random',
  };
  if (options.compression) config['compression.codec'] = options.compression;
  if (options.idempotent) config['enable.idempotence'] = 'true';
  for (const [k, v] of Object.entries(options.config ?? {})) config[k] = String(v);
  return config;
}

/**
 * kcat reads messages from stdin split by a delimiter and takes headers, topic and partition from
 * its command line, so records are sent in runs of equal (topic, partition, headers), one kcat
 * each, in order. With -Z, an empty key or value is sent as NULL: kcat cannot send empty
 * non-null keys or values. kcat reports no offsets; deliveries carry offset -1 and, without an
 * explicit partition, partition -1.
 */
async function produceKcat(
  bootstrap: string,
  records: OutgoingRecord[],
  options: ProduceOptions,
): Promise<Delivery[]> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  // kcat sizes its stdin buffer from message.max.bytes and rejects a longer message (with its
  // delimiters) before librdkafka sees it; batches stay within batch.size (1000000) regardless.
  const config = { ...librdkafkaConfig(options), 'message.max.bytes': String(4 * 1024 * 1024) };
  Object.assign(config, options.config);
  const deliveries: Delivery[] = [];
  let i = 0;
  while (i < records.length) {
    const first = records[i]!;
    const headers = first.headers ?? [];
    const sameRun = (r: OutgoingRecord) =>
      r.topic === first.topic &&
      r.partition === first.partition &&
      JSON.stringify(recordsJson([{ ...r, key: null, value: null, topic: '' }])) ===
        JSON.stringify(recordsJson([{ ...first, key: null, value: null, topic: '' }]));
    const run_: OutgoingRecord[] = [];
    while (i < records.length && sameRun(records[i]!)) run_.push(records[i++]!);
    for (const r of run_) {
      if (r.key?.length === 0 || r.value?.length === 0) {
        throw new Error('kcat cannot produce an empty non-null key or value (-Z sends it as NULL)');
      }
      if (r.timestamp !== undefined) throw new Error('kcat cannot set record timestamps');
    }
    for (const [name, value] of headers) {
      if (value === null || name.includes('='))
        throw new Error(`kcat cannot send header ${name}=${value}`);
    }
    const all = run_.flatMap((r) => [r.key ?? Buffer.alloc(0), r.value ?? Buffer.alloc(0)]);
    const msgDelim = delimiter(all);
    const keyDelim = delimiter([...all, msgDelim]);
    const input = Buffer.concat(
      run_.flatMap((r) => [
        r.key ?? Buffer.alloc(0),
        keyDelim,
        r.value ?? Buffer.alloc(0),
        msgDelim,
      ]),
    );
    const args = ['-P', '-b', bootstrap, '-t', first.topic, '-p', String(first.partition ?? -1)];
    args.push('-D', kcatEscape(msgDelim), '-K', kcatEscape(keyDelim), '-Z', '-q');
    for (const [name, value] of headers) args.push('-H', `${name}=${value!.toString()}`);
    for (const [k, v] of Object.entries(config)) args.push('-X', `${k}=${v}`);
    await run(KCAT, args, input, timeoutMs);
    for (const r of run_)
      deliveries.push({ topic: r.topic, partition: r.partition ?? -1, offset: -1 });
  }
  return deliveries;
}

/**
 * One kcat -C per topic (simple consumer, no group), -e to stop at the end. The output format puts
 * key and value lengths on a text line followed by the raw key and value bytes, so bytes are exact.
 * Headers come as kcat prints them (name=value CSV): text header values without ',' or '=' only.
 */
async function consumeKcat(
  bootstrap: string,
  topics: string[],
  options: ConsumeOptions,
): Promise<ConsumeResult> {
  const records: ConsumedRecord[] = [];
  const start = options.start ?? 'earliest';
  const offset =
    start === 'earliest' ? 'beginning' : start === 'latest' ? 'end' : `s@${start.timestamp}`;
  const config = Object.entries(options.config ?? {}).flatMap(([k, v]) => ['-X', `${k}=${v}`]);
  for (const topic of topics) {
    const partitions: (number | undefined)[] = options.partitions ?? [undefined];
    for (const partition of partitions) {
      const args = [
        '-C',
        '-b',
        bootstrap,
        '-t',
        topic,
        '-o',
        offset,
        '-e',
        '-q',
        '-X',
        'check.crcs=true',
      ];
      if (partition !== undefined) args.push('-p', String(partition));
      args.push('-f', '%t %p %o %K %S %T %h\\n%k%s', ...config);
      const { stdout } = await run(KCAT, args, '', options.timeoutMs ?? 30_000);
      records.push(...parseKcat(stdout));
    }
  }
  return { records: sortRecords(records), start: new Map(), end: new Map() };
}

function parseKcat(out: Buffer): ConsumedRecord[] {
  const records: ConsumedRecord[] = [];
  let pos = 0;
  while (pos < out.length) {
    const nl = out.indexOf(0x0a, pos);
    if (nl < 0) throw new Error(`truncated kcat output at ${pos}`);
    const line = out.subarray(pos, nl).toString();
    const m = /^(\S+) (\d+) (\d+) (-?\d+) (-?\d+) (-?\d+) (.*)$/.exec(line);
    if (!m) throw new Error(`unexpected kcat output line: ${JSON.stringify(line)}`);
    pos = nl + 1;
    const keyLen = Number(m[4]);
    const valueLen = Number(m[5]);
    const key = keyLen < 0 ? null : Buffer.from(out.subarray(pos, pos + keyLen));
    pos += Math.max(keyLen, 0);
    const value = valueLen < 0 ? null : Buffer.from(out.subarray(pos, pos + valueLen));
    pos += Math.max(valueLen, 0);
    const headers: Header[] = m[7]
      ? m[7].split(',').map((h) => {
          const eq = h.indexOf('=');
          return eq < 0 ? [h, null] : [h.slice(0, eq), Buffer.from(h.slice(eq + 1))];
        })
      : [];
    records.push({
      topic: m[1]!,
      partition: Number(m[2]),
      offset: Number(m[3]),
      key,
      value,
      headers,
      timestamp: Number(m[6]),
    });
  }
  return records;
}

// ---------------------------------------------------------------------------------------------
// Node clients (in process)

/** Sends in chunks so no request carries more than this per partition (one batch per send). */
const NODE_SEND_CHUNK_BYTES = 512 * 1024;

function chunks(records: OutgoingRecord[]): OutgoingRecord[][] {
  const out: OutgoingRecord[][] = [];
  let current: OutgoingRecord[] = [];
  let size = 0;
  for (const r of records) {
    const n = (r.key?.length ?? 0) + (r.value?.length ?? 0) + 64;
    if (current.length > 0 && size + n > NODE_SEND_CHUNK_BYTES) {
      out.push(current);
      current = [];
      size = 0;
    }
    current.push(r);
    size += n;
  }
  if (current.length > 0) out.push(current);
  return out;
}

const KAFKAJS_CODECS: Partial<Record<Codec, CompressionTypes>> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
};

/**
 * kafkajs headers are an object: repeated names must be adjacent (they become an array) and
 * values cannot be null.
 */
async function produceKafkajs(
  bootstrap: string,
  records: OutgoingRecord[],
  options: ProduceOptions,
): Promise<Delivery[]> {
  const compression = KAFKAJS_CODECS[options.compression ?? 'none'];
  if (compression === undefined)
    throw new Error(`kafkajs has no built-in ${options.compression} codec`);
  const kafka = new Kafka({
    clientId: 'kafscale-test',
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 3 },
  });
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    idempotent: options.idempotent ?? false,
    maxInFlightRequests: options.idempotent ? 1 : undefined,
    allowAutoTopicCreation: true,
  });
  await producer.connect();
  const deliveries: Delivery[] = [];
  try {
    if (records.some((r) => r.partition === undefined && r.key === null)) {
      throw new Error('kafkajs: a null-key record needs an explicit partition here');
    }
    const sent: { byTopic: Map<string, OutgoingRecord[]>; result: RecordMetadata[] }[] = [];
    for (const chunk of chunks(records)) {
      // One send per topic keeps the record order of the input within each partition.
      const byTopic = new Map<string, OutgoingRecord[]>();
      for (const r of chunk) byTopic.set(r.topic, [...(byTopic.get(r.topic) ?? []), r]);
      const result = await producer.sendBatch({
        acks: -1,
        compression,
        topicMessages: [...byTopic].map(([topic, rs]) => ({
          topic,
          messages: rs.map(kafkajsMessage),
        })),
      });
      sent.push({ byTopic, result });
    }
    // Records without a partition went where kafkajs' Java-compatible murmur2 partitioner put them.
    const partitionCounts = await kafkajsPartitionCounts(kafka, records);
    for (const { byTopic, result } of sent) {
      // kafkajs answers with the base offset of each partition's batch.
      const next = new Map(
        result.map((m) => [`${m.topicName}/${m.partition}`, Number(m.baseOffset)]),
      );
      for (const [topic, rs] of byTopic) {
        for (const r of rs) {
          const partition = r.partition ?? javaPartition(r.key!, partitionCounts.get(topic)!);
          const key = `${topic}/${partition}`;
          const offset = next.get(key) ?? -1;
          next.set(key, offset + 1);
          deliveries.push({ topic, partition, offset });
        }
      }
    }
  } finally {
    await producer.disconnect();
  }
  // Deliveries grouped by topic: restore input order.
  return reorder(records, deliveries);
}

async function kafkajsPartitionCounts(
  kafka: Kafka,
  records: OutgoingRecord[],
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const topics = [...new Set(records.filter((r) => r.partition === undefined).map((r) => r.topic))];
  if (topics.length === 0) return counts;
  const admin = kafka.admin();
  await admin.connect();
  try {
    const metadata = await admin.fetchTopicMetadata({ topics });
    for (const t of metadata.topics) counts.set(t.name, t.partitions.length);
  } finally {
    await admin.disconnect();
  }
  return counts;
}

function kafkajsMessage(r: OutgoingRecord): KafkajsMessage {
  const headers: Record<string, Buffer | Buffer[]> = {};
  let last: string | undefined;
  for (const [name, value] of r.headers ?? []) {
    if (value === null) throw new Error('kafkajs cannot send a null header value');
    const existing = headers[name];
    if (existing === undefined) headers[name] = value;
    else if (last !== name) throw new Error('kafkajs cannot interleave repeated header names');
    else headers[name] = Array.isArray(existing) ? [...existing, value] : [existing, value];
    last = name;
  }
  return {
    key: r.key,
    value: r.value,
    partition: r.partition,
    headers,
    timestamp: r.timestamp === undefined ? undefined : String(r.timestamp),
  };
}

function reorder(records: OutgoingRecord[], deliveries: Delivery[]): Delivery[] {
  // deliveries are in (chunk, topic, input) order; map back to the input order.
  const queues = new Map<string, Delivery[]>();
  for (const d of deliveries) queues.set(d.topic, [...(queues.get(d.topic) ?? []), d]);
  return records.map((r) => queues.get(r.topic)!.shift()!);
}

const PLATFORMATIC_CODECS: Partial<Record<Codec, CompressionAlgorithmValue>> = {
  none: 'none',
  gzip: 'gzip',
  snappy: 'snappy',
  lz4: 'lz4',
};

/** @platformatic/kafka with Buffer (no-op) serialisers and Java's murmur2 partitioner. */
async function producePlatformatic(
  bootstrap: string,
  records: OutgoingRecord[],
  options: ProduceOptions,
): Promise<Delivery[]> {
  const compression = PLATFORMATIC_CODECS[options.compression ?? 'none'];
  if (compression === undefined)
    throw new Error(`@platformatic/kafka cannot use ${options.compression} here`);
  const producer = new PlatformaticProducer({
    clientId: 'kafscale-test',
    bootstrapBrokers: [bootstrap],
    compression,
    idempotent: options.idempotent ?? false,
    acks: -1,
    partitioner: compatibilityPartitioner,
    autocreateTopics: true,
    retries: 3,
  });
  const deliveries: Delivery[] = [];
  try {
    for (const chunk of chunks(records)) {
      const messages: MessageToProduce[] = chunk.map((r) => ({
        topic: r.topic,
        partition: r.partition,
        key: r.key ?? undefined,
        value: r.value ?? undefined,
        timestamp: r.timestamp === undefined ? undefined : BigInt(r.timestamp),
        // Distinct Buffer objects are distinct Map keys, so repeated header names survive.
        headers: new Map(
          (r.headers ?? []).map(([name, value]) => [Buffer.from(name), value as Buffer]),
        ),
      }));
      const result = await producer.send({ messages });
      const topics = [...new Set(chunk.map((r) => r.topic))];
      const metadata = await producer.metadata({ topics });
      // The base offset of each partition's batch.
      const next = new Map(
        (result.offsets ?? []).map((o) => [`${o.topic}/${o.partition}`, Number(o.offset)]),
      );
      for (const r of chunk) {
        // compatibilityPartitioner: Java's murmur2 for a key, partition 0 for a null key.
        const count = metadata.topics.get(r.topic)!.partitionsCount;
        const partition = r.partition ?? (r.key === null ? 0 : javaPartition(r.key, count));
        const key = `${r.topic}/${partition}`;
        const offset = next.get(key) ?? -1;
        next.set(key, offset + 1);
        deliveries.push({ topic: r.topic, partition, offset });
      }
    }
  } finally {
    await producer.close();
  }
  return deliveries;
}

// ---------------------------------------------------------------------------------------------
// Public API

/** Produces the records with the given client (acks=all) and returns one delivery per record. */
export async function produce(
  client: ProducerClient,
  bootstrap: string,
  records: OutgoingRecord[],
  options: ProduceOptions = {},
): Promise<Delivery[]> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  switch (client) {
    case 'kcat':
      return produceKcat(bootstrap, records, options);
    case 'confluent-kafka':
      return runPythonProducer(
        CONFLUENT_PRODUCE,
        bootstrap,
        records,
        { acks: 'all', ...librdkafkaConfig(options) },
        timeoutMs,
      );
    case 'kafka-python': {
      if (records.some((r) => r.headers?.some(([, v]) => v === null))) {
        throw new Error('kafka-python cannot send a null header value');
      }
      const compression = options.compression ?? 'none';
      const config = {
        acks: 'all',
        max_request_size: MAX_MESSAGE_BYTES,
        linger_ms: 5,
        ...(compression === 'none' ? {} : { compression_type: compression }),
        ...options.config,
      };
      return runPythonProducer(KAFKA_PYTHON_PRODUCE, bootstrap, records, config, timeoutMs);
    }
    case 'kafkajs':
      return produceKafkajs(bootstrap, records, options);
    case 'platformatic':
      return producePlatformatic(bootstrap, records, options);
  }
}

/** Reads every record of the topics from the start position up to the end offsets seen at start. */
export async function consume(
  client: ConsumerClient,
  bootstrap: string,
  topics: string | string[],
  options: ConsumeOptions = {},
): Promise<ConsumeResult> {
  const list = typeof topics === 'string' ? [topics] : topics;
  switch (client) {
    case 'kcat':
      return consumeKcat(bootstrap, list, options);
    case 'kafka-python':
      return runPythonConsumer(KAFKA_PYTHON_CONSUME, bootstrap, list, options, {
        max_partition_fetch_bytes: 2 * MAX_MESSAGE_BYTES,
        ...options.config,
      });
    case 'confluent-kafka':
      return runPythonConsumer(CONFLUENT_CONSUME, bootstrap, list, options, { ...options.config });
  }
}

export function sortRecords<T extends { topic: string; partition: number; offset: number }>(
  records: T[],
): T[] {
  return [...records].sort((a, b) =>
    a.topic !== b.topic
      ? a.topic < b.topic
        ? -1
        : 1
      : a.partition - b.partition || a.offset - b.offset,
  );
}

/** Java's Utils.murmur2, as the default partitioner of every Java-compatible client uses it. */
export function murmur2(data: Buffer): number {
  const m = 0x5bd1e995;
  const length = data.length;
  let h = (0x9747b28c ^ length) | 0;
  const length4 = length & ~3;
  for (let i = 0; i < length4; i += 4) {
    let k = data.readInt32LE(i);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const rest = length & 3;
  if (rest === 3) h ^= data[length4 + 2]! << 16;
  if (rest >= 2) h ^= data[length4 + 1]! << 8;
  if (rest >= 1) {
    h ^= data[length4]!;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition Java's default partitioner picks for a non-null key. */
export function javaPartition(key: Buffer, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}
