// The librdkafka (confluent-kafka) clients of the benchmark: small Python scripts run with the
// system python3, one JSON job on stdin, one JSON result on stdout. Timing happens inside the
// script, so interpreter start-up and imports are not counted.

import { execFile } from 'node:child_process';
import { PYTHON } from '../../test/support/clients.js';

export { PYTHON };

/**
 * Produces records of `size` bytes with acks=all for `seconds` (or until `maxRecords`), then
 * flushes. The clock runs from the first produce() to the last delivery report, so throughput
 * includes draining what was queued. The local queue is capped at 32 MiB to keep that drain short.
 */
const PRODUCE = `
import sys, json, os, time
from confluent_kafka import Producer
job = json.load(sys.stdin)
size, seconds, limit = job['size'], job['seconds'], job['maxRecords']
errors = []
p = Producer({'bootstrap.servers': job['bootstrap'], 'acks': 'all', 'linger.ms': 5,
              'batch.size': 1000000, 'queue.buffering.max.messages': 100000,
              'queue.buffering.max.kbytes': 32768, 'partitioner': 'murmur2_random'})
def dr(err, msg):
    if err: errors.append(str(err))
payload = os.urandom(size)
# Warm up: metadata, connections.
p.produce(job['topic'], value=payload, key=b'warm-up', on_delivery=dr)
p.flush(30)
n = 0
start = time.perf_counter()
deadline = start + seconds
while n < limit:
    if (n & 511) == 0:
        p.poll(0)
        if time.perf_counter() >= deadline: break
    try:
        p.produce(job['topic'], value=payload, key=str(n).encode(), on_delivery=dr)
        n += 1
    except BufferError:
        p.poll(0.005)
left = p.flush(180)
elapsed = time.perf_counter() - start
if left or errors: sys.exit(f'not delivered: {left}; errors: {errors[:3]}')
print(json.dumps({'seconds': elapsed, 'records': n, 'bytes': n * size}))
`;

/** Reads every partition of the topic from the beginning to the end offsets seen at start. */
const CONSUME = `
import sys, json, time
from confluent_kafka import Consumer, TopicPartition
job = json.load(sys.stdin)
c = Consumer({'bootstrap.servers': job['bootstrap'], 'group.id': 'bench-unused',
              'enable.auto.commit': False, 'enable.auto.offset.store': False,
              'fetch.max.bytes': 52428800, 'queued.max.messages.kbytes': 262144})
md = c.list_topics(job['topic'], timeout=10)
parts = [TopicPartition(job['topic'], p) for p in md.topics[job['topic']].partitions]
marks = [c.get_watermark_offsets(tp, timeout=10) for tp in parts]
total = sum(high - low for low, high in marks)
# Explicit start offsets: with OFFSET_BEGINNING librdkafka 2.0 sometimes queries the start offset
# only on a 500 ms retry timer (a client-side race at assign), which is not the broker's time.
tps = [TopicPartition(tp.topic, tp.partition, low) for tp, (low, _) in zip(parts, marks)]
start = time.perf_counter()
c.assign(tps)
count, nbytes = 0, 0
deadline = time.time() + job['timeout']
while count < total:
    if time.time() > deadline: sys.exit(f'timed out after {count} of {total}')
    # consume(n, timeout) returns once it holds n messages or the timeout passes: asking for more
    # than are left would add the whole timeout to the last call.
    for m in c.consume(min(10000, total - count), 0.5):
        if m.error(): continue
        count += 1
        nbytes += len(m.value() or b'')
elapsed = time.perf_counter() - start
c.close()
print(json.dumps({'seconds': elapsed, 'records': count, 'bytes': nbytes}))
`;

/**
 * Produces at a fixed rate (acks=all, librdkafka's default linger of 5 ms) and, with consume,
 * reads the records back in the same process from the end offsets taken before the first send.
 * Reports each record's produce latency (produce() to delivery report) and end-to-end latency
 * (produce() to the consumer receiving it), in ms, leaving out the first warmup seconds (their
 * produce latencies are reported apart, as warmupMs).
 */
const FIXED_RATE = `
import sys, json, os, time
from confluent_kafka import Producer, Consumer, TopicPartition
job = json.load(sys.stdin)
topic, rate, seconds, size = job['topic'], job['rate'], job['seconds'], job['size']
total = int(rate * seconds)
skip = int(rate * job['warmup'])
errors = []
p = Producer({'bootstrap.servers': job['bootstrap'], 'acks': 'all', 'linger.ms': 5,
              'partitioner': 'murmur2_random'})
sent = [0.0] * total
produce_ms, e2e_ms, warmup_ms = [], [], []
delivered = [0]
last_delivery = [0.0]
def dr(err, msg):
    now = time.perf_counter()
    if err:
        errors.append(str(err))
        return
    i = int(msg.key())
    delivered[0] += 1
    last_delivery[0] = now
    (produce_ms if i >= skip else warmup_ms).append((now - sent[i]) * 1000)
c = None
if job['consume']:
    c = Consumer({'bootstrap.servers': job['bootstrap'], 'group.id': 'bench-unused',
                  'enable.auto.commit': False, 'enable.auto.offset.store': False})
    md = c.list_topics(topic, timeout=10)
    tps = []
    for part in md.topics[topic].partitions:
        tp = TopicPartition(topic, part)
        tp.offset = c.get_watermark_offsets(tp, timeout=10)[1]
        tps.append(tp)
    c.assign(tps)
    t = time.time() + 1
    while time.time() < t: c.consume(100, 0.05)
# Metadata and connections before the clock starts.
p.list_topics(topic, timeout=10)
payload = os.urandom(size)
received = 0
seen = set()
start = time.perf_counter()
i = 0
hard_stop = start + seconds + job['drainSeconds']
while True:
    now = time.perf_counter()
    while i < total and start + i / rate <= now:
        sent[i] = time.perf_counter()
        while True:
            try:
                p.produce(topic, value=payload, key=str(i).encode(), on_delivery=dr)
                break
            except BufferError:
                p.poll(0.001)
        i += 1
    p.poll(0)
    if c is not None:
        for m in c.consume(500, 0.001):
            if m.error() or m.key() is None: continue
            k = int(m.key())
            if k in seen: continue
            seen.add(k)
            received += 1
            if k >= skip: e2e_ms.append((time.perf_counter() - sent[k]) * 1000)
    else:
        time.sleep(0.0005)
    if i >= total and delivered[0] + len(errors) >= total and (c is None or received >= total):
        break
    if now > hard_stop: break
p.flush(10)
if c is not None: c.close()
print(json.dumps({'sent': i, 'delivered': delivered[0], 'received': received,
                  'errors': errors[:5], 'errorCount': len(errors),
                  'seconds': (last_delivery[0] or time.perf_counter()) - start,
                  'produceMs': produce_ms, 'e2eMs': e2e_ms,
                  'warmupMs': warmup_ms}))
`;

function python<T>(script: string, job: unknown, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      PYTHON,
      ['-c', script],
      { maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`python3 failed: ${(stderr || error.message).slice(-2000)}`));
        else resolve(JSON.parse(stdout) as T);
      },
    );
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(JSON.stringify(job));
  });
}

export interface Throughput {
  seconds: number;
  records: number;
  bytes: number;
}

export function produceTimed(job: {
  bootstrap: string;
  topic: string;
  size: number;
  seconds: number;
  maxRecords?: number;
}): Promise<Throughput> {
  return python<Throughput>(
    PRODUCE,
    { maxRecords: Number.MAX_SAFE_INTEGER, ...job },
    (job.seconds + 240) * 1000,
  );
}

export function consumeAll(job: {
  bootstrap: string;
  topic: string;
  timeoutSeconds: number;
}): Promise<Throughput> {
  return python<Throughput>(
    CONSUME,
    { ...job, timeout: job.timeoutSeconds },
    (job.timeoutSeconds + 30) * 1000,
  );
}

export interface FixedRateResult {
  sent: number;
  delivered: number;
  received: number;
  errors: string[];
  errorCount: number;
  seconds: number;
  produceMs: number[];
  e2eMs: number[];
  /** Produce latencies of the records sent in the warmup seconds. */
  warmupMs: number[];
}

export function produceAtRate(job: {
  bootstrap: string;
  topic: string;
  rate: number;
  seconds: number;
  size: number;
  warmup: number;
  consume: boolean;
  drainSeconds?: number;
}): Promise<FixedRateResult> {
  const drainSeconds = job.drainSeconds ?? 30;
  return python<FixedRateResult>(
    FIXED_RATE,
    { ...job, drainSeconds },
    (job.seconds + drainSeconds + 40) * 1000,
  );
}
