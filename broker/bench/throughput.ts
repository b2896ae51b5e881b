// End-to-end throughput with a real client: starts a broker process on each backend (embedded
// default; etcd + S3 via s3rver), produces N records of S bytes with confluent-kafka (librdkafka,
// acks=all) into a fresh topic, then consumes them back with confluent-kafka (assign, no group),
// and prints MB/s and records/s for both directions. "consume" reads the tail right after producing
// (mostly the broker's cache); "cold" reads everything again after a broker restart (SIGTERM and
// start on the same data), so it comes from the object store.
//
//   npx tsx broker/bench/throughput.ts [--records 100000] [--size 1024] [--partitions 1]
//                                      [--compression none] [--backend embedded,etcd-s3]
//
// Timing happens inside the Python process, from the first produce() to the last delivery report
// (producer) and from assign() to the last record (consumer), so process start-up is not counted.

import { execFile } from 'node:child_process';
import { parseArgs } from 'node:util';
import { BrokerProcess } from '../test/support/broker-process.js';
import { buildBroker } from './lib/env.js';
import { EtcdServer } from '../test/support/etcd.js';
import { startS3rver, type S3rver } from '../test/support/s3rver.js';

const PYTHON = '/usr/bin/python3';

const PRODUCE = `
import sys, json, os, time
from confluent_kafka import Producer
job = json.load(sys.stdin)
n, size = job['records'], job['size']
errors = []
p = Producer({'bootstrap.servers': job['bootstrap'], 'acks': 'all', 'linger.ms': 5,
              'compression.type': job['compression'], 'queue.buffering.max.messages': 200000,
              'batch.size': 1000000, 'partitioner': 'murmur2_random'})
def dr(err, msg):
    if err: errors.append(str(err))
payload = os.urandom(size)
# Warm up: metadata, connection, topic creation.
p.produce(job['topic'], value=payload, key=b'warm-up', on_delivery=dr)
p.flush(30)
start = time.perf_counter()
for i in range(n):
    while True:
        try:
            p.produce(job['topic'], value=payload, key=str(i).encode(), on_delivery=dr)
            break
        except BufferError:
            p.poll(0.01)
    if i % 1000 == 0: p.poll(0)
left = p.flush(300)
elapsed = time.perf_counter() - start
if left or errors: sys.exit(f'not delivered: {left}; errors: {errors[:3]}')
print(json.dumps({'seconds': elapsed}))
`;

const CONSUME = `
import sys, json, time
from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
job = json.load(sys.stdin)
c = Consumer({'bootstrap.servers': job['bootstrap'], 'group.id': 'bench-unused',
              'enable.auto.commit': False, 'enable.auto.offset.store': False,
              'fetch.max.bytes': 52428800, 'queued.max.messages.kbytes': 262144})
md = c.list_topics(job['topic'], timeout=10)
tps = [TopicPartition(job['topic'], p, OFFSET_BEGINNING) for p in md.topics[job['topic']].partitions]
total = sum(c.get_watermark_offsets(tp, timeout=10)[1] for tp in tps)
start = time.perf_counter()
c.assign(tps)
count, nbytes = 0, 0
deadline = time.time() + 300
while count < total:
    if time.time() > deadline: sys.exit(f'timed out after {count} of {total}')
    for m in c.consume(10000, 0.5):
        if m.error(): continue
        count += 1
        nbytes += len(m.value() or b'')
elapsed = time.perf_counter() - start
c.close()
print(json.dumps({'seconds': elapsed, 'records': count, 'bytes': nbytes}))
`;

function python(script: string, job: unknown): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      PYTHON,
      ['-c', script],
      { maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`python3 failed: ${stderr || error.message}`));
        else resolve(JSON.parse(stdout) as Record<string, number>);
      },
    );
    child.stdin!.end(JSON.stringify(job));
  });
}

interface Backend {
  name: string;
  start(): Promise<{ env: Record<string, string>; stop: () => Promise<void> }>;
}

const BACKENDS: Backend[] = [
  { name: 'embedded', start: async () => ({ env: {}, stop: async () => undefined }) },
  {
    name: 'etcd-s3',
    start: async () => {
      const [etcd, s3]: [EtcdServer, S3rver] = await Promise.all([
        EtcdServer.start(),
        startS3rver(),
      ]);
      return {
        env: {
          KAFSCALE_ETCD_ENDPOINTS: etcd.endpoint,
          KAFSCALE_S3_BUCKET: s3.bucket,
          KAFSCALE_S3_ENDPOINT: s3.endpoint,
          KAFSCALE_S3_PATH_STYLE: 'true',
          KAFSCALE_S3_REGION: s3.region,
          KAFSCALE_S3_ACCESS_KEY: s3.credentials.accessKeyId,
          KAFSCALE_S3_SECRET_KEY: s3.credentials.secretAccessKey,
        },
        stop: async () => {
          await Promise.all([etcd.destroy(), s3.stop()]);
        },
      };
    },
  },
];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      records: { type: 'string', default: '100000' },
      size: { type: 'string', default: '1024' },
      partitions: { type: 'string', default: '1' },
      compression: { type: 'string', default: 'none' },
      backend: { type: 'string', default: BACKENDS.map((b) => b.name).join(',') },
    },
  });
  const records = Number(values.records);
  const size = Number(values.size);
  const wanted = values.backend.split(',');
  buildBroker();
  console.log(
    `confluent-kafka ${records} records x ${size} B, acks=all, compression=${values.compression}, ` +
      `${values.partitions} partition(s)`,
  );
  console.log('backend    direction  seconds   records/s        MB/s');
  for (const backend of BACKENDS.filter((b) => wanted.includes(b.name))) {
    const deps = await backend.start();
    const broker = await BrokerProcess.start({
      env: { ...deps.env, KAFSCALE_AUTO_CREATE_PARTITIONS: values.partitions },
      compiled: true,
    });
    try {
      const topic = `bench-${Date.now().toString(36)}`;
      const job = {
        bootstrap: broker.bootstrap,
        topic,
        records,
        size,
        compression: values.compression,
      };
      const produced = await python(PRODUCE, job);
      const consumed = await python(CONSUME, job);
      // The warm-up record is consumed too.
      if (consumed['records'] !== records + 1) {
        throw new Error(`consumed ${consumed['records']} records, expected ${records + 1}`);
      }
      const line = (direction: string, seconds: number, n: number, bytes: number) =>
        console.log(
          `${backend.name.padEnd(10)} ${direction.padEnd(9)} ${seconds.toFixed(2).padStart(8)} ` +
            `${Math.round(n / seconds)
              .toString()
              .padStart(11)} ${(bytes / seconds / 1e6).toFixed(1).padStart(11)}`,
        );
      line('produce', produced['seconds']!, records, records * size);
      line('consume', consumed['seconds']!, consumed['records']!, consumed['bytes']!);
      // Again after a restart: the cache is empty, every byte comes from the object store.
      await broker.restart();
      const cold = await python(CONSUME, job);
      line('cold', cold['seconds']!, cold['records']!, cold['bytes']!);
    } finally {
      await broker.destroy();
      await deps.stop();
    }
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
