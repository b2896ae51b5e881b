// A reusable durability check against a running cluster: a real client (confluent-kafka, i.e.
// librdkafka, in a python subprocess) produces uniquely numbered records with acks=all and
// records every delivery report, while a caller's "chaos" callback kills and restarts brokers.
// Afterwards every partition is read from its log start offset to its high watermark, and each
// acknowledged record must be found exactly at the offset it was acknowledged with.

import { spawn } from 'node:child_process';

export const PYTHON = '/usr/bin/python3';

/** Value of record number n: what the reader parses back. */
export const recordValue = (n: number): string => `rec-${n}`;

// Produces records `rec-0`, `rec-1`, ... at a steady rate until at least `minimum` were produced
// and stdin is closed (the chaos is over), then flushes. One line per event on stdout:
//   A <partition> <offset> <n>      acknowledged
//   E <n> <code> <message>          delivery failed (not acknowledged)
//   F <code> <message>              fatal producer error
//   D <produced> <unflushed>        done
const PRODUCER = `
import json, sys, threading, time
from confluent_kafka import KafkaError, Producer
job = json.loads(sys.argv[1])
out = sys.stdout
lock = threading.Lock()
def emit(line):
    with lock:
        out.write(line + '\\n')
        out.flush()
def on_error(err):
    if err.fatal():
        emit('F %d %s' % (err.code(), err.str().replace('\\n', ' ')))
conf = dict(job['config'])
conf['error_cb'] = on_error
producer = Producer(conf)
stop = threading.Event()
def wait_stdin():
    sys.stdin.read()
    stop.set()
threading.Thread(target=wait_stdin, daemon=True).start()
def report(err, msg):
    n = int(msg.value()[4:])
    if err is None:
        emit('A %d %d %d' % (msg.partition(), msg.offset(), n))
    else:
        emit('E %d %d %s' % (n, err.code(), err.str().replace('\\n', ' ')))
topic = job['topic']
rate = float(job['rate'])
n = 0
start = time.time()
while (n < job['minimum'] or not stop.is_set()) and n < job['maximum']:
    wait = start + n / rate - time.time()
    producer.poll(wait if wait > 0 else 0)
    try:
        producer.produce(topic, value=b'rec-%d' % n, on_delivery=report)
    except BufferError:
        producer.poll(0.05)
        continue
    n += 1
left = producer.flush(job['flushTimeoutSec'])
emit('D %d %d' % (n, left))
`;

// Reads every partition from its log start offset to its high watermark (assign, no group) and
// prints the watermarks and every record:
//   W <partition> <low> <high>
//   R <partition> <offset> <value>
const READER = `
import json, sys
from confluent_kafka import Consumer, TopicPartition, KafkaError
job = json.loads(sys.argv[1])
topic = job['topic']
c = Consumer({'bootstrap.servers': job['bootstrap'], 'group.id': 'durability-verifier',
              'enable.auto.commit': False, 'enable.partition.eof': False,
              'fetch.wait.max.ms': 100, 'socket.timeout.ms': 10000})
md = c.list_topics(topic, timeout=30)
parts = sorted(md.topics[topic].partitions)
remaining = {}
assign = []
for p in parts:
    low, high = c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
    print('W %d %d %d' % (p, low, high))
    if high > low:
        remaining[p] = high
        assign.append(TopicPartition(topic, p, low))
c.assign(assign)
while remaining:
    msg = c.poll(1.0)
    if msg is None:
        continue
    if msg.error():
        if msg.error().code() == KafkaError._PARTITION_EOF:
            continue
        raise Exception(msg.error().str())
    p = msg.partition()
    print('R %d %d %s' % (p, msg.offset(), msg.value().decode()))
    if p in remaining and msg.offset() + 1 >= remaining[p]:
        del remaining[p]
c.close()
`;

export interface Acked {
  partition: number;
  offset: number;
  n: number;
}

export interface DurabilityCounts {
  /** Records the producer was told are durable (delivery report without error). */
  acked: number;
  /** Acknowledged records found at their acknowledged offset. */
  found: number;
  /** Acknowledged records found nowhere in the log. */
  lost: number;
  /** Record numbers present in the log more than once (acknowledged or not). */
  duplicated: number;
  /** Acknowledged records whose offset holds something else (or that appear elsewhere only). */
  offsetMismatches: number;
}

export interface DurabilityReport extends DurabilityCounts {
  /** Records the producer handed to the client. */
  produced: number;
  /** Delivery reports with an error (not acknowledged). */
  failed: number;
  /** Fatal producer errors (idempotence violations and the like). */
  fatal: string[];
  /** Records read back from all partitions. */
  read: number;
  /** Offsets missing between a partition's log start and its high watermark. */
  gaps: number;
  /** Offsets read back twice with different records. */
  conflicts: number;
  /** Offsets acknowledged for two different records. */
  ackConflicts: number;
  /** Distinct delivery error messages and how often they occurred. */
  errors: Map<string, number>;
  /** (partition, offset) -> record number, as read back (-1: not one of the producer's). */
  log: Map<number, Map<number, number>>;
  /** Records read back that are not the producer's (written by the test itself). */
  foreign: ForeignRecord[];
}

export interface ForeignRecord {
  partition: number;
  offset: number;
  value: string;
}

/** Lets the chaos callback follow the producer. */
export interface ProduceProgress {
  /** Acknowledged deliveries so far. */
  readonly acked: number;
  /** Failed deliveries so far. */
  readonly failed: number;
  /** Resolves once `count` more records than now (or in total, with `total`) are acknowledged. */
  waitForAcked(count: number, options?: { total?: boolean; timeoutMs?: number }): Promise<void>;
}

export interface DurabilityOptions {
  /** Bootstrap servers for the producer ("host:port,host:port"). */
  bootstrap: string;
  /** Bootstrap servers for the read-back (the cluster after the chaos); `bootstrap` by default. */
  readBootstrap?: () => string;
  topic: string;
  /** Produce at least this many records (production continues until the chaos is over). */
  minimum: number;
  /** Never more than this many records (default 10 x minimum). */
  maximum?: number;
  /** Records per second (default 500). */
  rate?: number;
  /** Idempotent producer (default true). */
  idempotent?: boolean;
  /** librdkafka message.timeout.ms: how long a record is retried before it fails (default 120 s). */
  messageTimeoutMs?: number;
  /** Extra librdkafka properties. */
  config?: Record<string, string | number | boolean>;
  /** Runs while the producer produces; production ends after it resolves and `minimum` is met. */
  chaos?: (progress: ProduceProgress) => Promise<void>;
}

interface ProducerRun {
  acked: Acked[];
  failed: number;
  produced: number;
  unflushed: number;
  fatal: string[];
  errors: Map<string, number>;
}

/** Produces, runs the chaos, reads everything back and compares. */
export async function verifyDurability(options: DurabilityOptions): Promise<DurabilityReport> {
  const run = await produceWithChaos(options);
  const bootstrap = options.readBootstrap?.() ?? options.bootstrap;
  const { log, gaps, conflicts, read, foreign } = await readBack(bootstrap, options.topic);
  return { ...compare(run.acked, log), ...summary(run), gaps, conflicts, read, log, foreign };
}

function summary(run: ProducerRun) {
  return {
    produced: run.produced,
    failed: run.failed + run.unflushed,
    fatal: run.fatal,
    errors: run.errors,
  };
}

/** Compares acknowledgements with what was read back. */
export function compare(
  acked: Acked[],
  log: Map<number, Map<number, number>>,
): DurabilityCounts & { ackConflicts: number } {
  const where = new Map<number, number>(); // n -> occurrences
  for (const offsets of log.values()) {
    for (const n of offsets.values()) if (n >= 0) where.set(n, (where.get(n) ?? 0) + 1);
  }
  let found = 0;
  let lost = 0;
  let offsetMismatches = 0;
  const ackedAt = new Map<string, number>();
  let ackConflicts = 0;
  for (const a of acked) {
    const key = `${a.partition}/${a.offset}`;
    const previous = ackedAt.get(key);
    if (previous !== undefined && previous !== a.n) ackConflicts++;
    ackedAt.set(key, a.n);
    const at = log.get(a.partition)?.get(a.offset);
    if (at === a.n) found++;
    else if (where.has(a.n)) offsetMismatches++;
    else lost++;
  }
  let duplicated = 0;
  for (const count of where.values()) if (count > 1) duplicated++;
  return { acked: acked.length, found, lost, duplicated, offsetMismatches, ackConflicts };
}

/** Runs the producer subprocess and the chaos callback side by side. */
export async function produceWithChaos(options: DurabilityOptions): Promise<ProducerRun> {
  const config: Record<string, string | number | boolean> = {
    'bootstrap.servers': options.bootstrap,
    acks: 'all',
    'enable.idempotence': options.idempotent ?? true,
    'message.timeout.ms': options.messageTimeoutMs ?? 120_000,
    'linger.ms': 5,
    'retry.backoff.ms': 100,
    'reconnect.backoff.ms': 100,
    'reconnect.backoff.max.ms': 1000,
    'topic.metadata.refresh.interval.ms': 2000,
    'socket.connection.setup.timeout.ms': 5000,
    ...options.config,
  };
  const job = {
    topic: options.topic,
    config,
    rate: options.rate ?? 500,
    minimum: options.minimum,
    maximum: options.maximum ?? options.minimum * 10,
    flushTimeoutSec: ((options.messageTimeoutMs ?? 120_000) + 30_000) / 1000,
  };
  const child = spawn(PYTHON, ['-u', '-c', PRODUCER, JSON.stringify(job)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const run: ProducerRun = {
    acked: [],
    failed: 0,
    produced: 0,
    unflushed: 0,
    fatal: [],
    errors: new Map(),
  };
  let stderr = '';
  let pending = '';
  const waiters: { target: number; resolve: () => void }[] = [];
  const wake = () => {
    for (const w of [...waiters]) {
      if (run.acked.length >= w.target) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-20_000);
  });
  child.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      const [kind, ...rest] = line.split(' ');
      if (kind === 'A') {
        const [partition, offset, n] = rest.map(Number);
        run.acked.push({ partition, offset, n });
      } else if (kind === 'E') {
        run.failed++;
        const message = rest.slice(1).join(' ');
        run.errors.set(message, (run.errors.get(message) ?? 0) + 1);
      } else if (kind === 'F') {
        run.fatal.push(rest.join(' '));
      } else if (kind === 'D') {
        run.produced = Number(rest[0]);
        run.unflushed = Number(rest[1]);
      }
    }
    wake();
  });
  // 'close', not 'exit': the last acknowledgements may still be in the pipe when the process exits.
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  child.stdin.on('error', () => undefined);

  const progress: ProduceProgress = {
    get acked() {
      return run.acked.length;
    },
    get failed() {
      return run.failed;
    },
    waitForAcked(count, { total = false, timeoutMs = 60_000 } = {}) {
      const target = total ? count : run.acked.length + count;
      if (run.acked.length >= target) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(
            new Error(
              `only ${run.acked.length} of ${target} records acknowledged after ${timeoutMs} ms ` +
                `(${run.failed} failed, errors: ${[...run.errors.keys()].join('; ')})\n${stderr}`,
            ),
          );
        }, timeoutMs);
        const waiter = {
          target,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        };
        waiters.push(waiter);
      });
    },
  };

  try {
    await Promise.race([
      options.chaos?.(progress),
      exited.then((code) => {
        throw new Error(`producer exited early with ${code}:\n${stderr}`);
      }),
    ]);
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    throw err;
  }
  child.stdin.end();
  const code = await exited;
  if (code !== 0) throw new Error(`producer exited with ${code}:\n${stderr}`);
  return run;
}

/** Reads every partition back; `log` maps partition -> offset -> record number. */
export async function readBack(
  bootstrap: string,
  topic: string,
): Promise<{
  log: Map<number, Map<number, number>>;
  gaps: number;
  conflicts: number;
  read: number;
  foreign: ForeignRecord[];
}> {
  const output = await runPython(READER, { bootstrap, topic }, 120_000);
  const log = new Map<number, Map<number, number>>();
  const watermarks = new Map<number, { low: number; high: number }>();
  let conflicts = 0;
  let read = 0;
  const foreign: ForeignRecord[] = [];
  for (const line of output.split('\n')) {
    const [kind, a, b, c] = line.split(' ');
    if (kind === 'W') {
      watermarks.set(Number(a), { low: Number(b), high: Number(c) });
      if (!log.has(Number(a))) log.set(Number(a), new Map());
    } else if (kind === 'R') {
      read++;
      const partition = Number(a);
      const offset = Number(b);
      // Records that are not the producer's (probes written by the test) count as -1.
      const n = Number(/^rec-(\d+)$/.exec(c ?? '')?.[1] ?? -1);
      if (n < 0) foreign.push({ partition, offset, value: c ?? '' });
      let offsets = log.get(partition);
      if (!offsets) log.set(partition, (offsets = new Map()));
      const previous = offsets.get(offset);
      if (previous !== undefined && previous !== n) conflicts++;
      offsets.set(offset, n);
    }
  }
  let gaps = 0;
  for (const [partition, { low, high }] of watermarks) {
    const offsets = log.get(partition)!;
    for (let o = low; o < high; o++) if (!offsets.has(o)) gaps++;
    for (const o of offsets.keys()) if (o < low || o >= high) gaps++;
  }
  return { log, gaps, conflicts, read, foreign };
}

function runPython(script: string, job: unknown, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ['-u', '-c', script, JSON.stringify(job)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // 'close', not 'exit': a process can exit before its last output has been read from the pipe.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(Buffer.concat(stdout).toString());
      else reject(new Error(`python reader exited with ${code ?? signal}:\n${stderr}`));
    });
  });
}

/** One line for the test log. */
export function formatReport(label: string, r: DurabilityReport): string {
  const errors = [...r.errors].map(([m, c]) => `${c}x ${m}`).join('; ');
  return (
    `${label}: produced=${r.produced} acked=${r.acked} found=${r.found} lost=${r.lost} ` +
    `duplicated=${r.duplicated} offsetMismatches=${r.offsetMismatches} failed=${r.failed} ` +
    `read=${r.read} gaps=${r.gaps} conflicts=${r.conflicts} ackConflicts=${r.ackConflicts}` +
    (r.fatal.length ? ` fatal=[${r.fatal.join('; ')}]` : '') +
    (errors ? ` errors=[${errors}]` : '')
  );
}
