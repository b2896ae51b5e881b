// Consumer groups against a real broker process with real clients: kafkajs, confluent-kafka and
// kafka-python (through /usr/bin/python3), kcat -G and @platformatic/kafka, plus the admin APIs.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { Consumer as PlatformaticConsumer, MessagesStreamModes } from '@platformatic/kafka';
import {
  AssignerProtocol,
  Kafka,
  logLevel,
  type Admin,
  type Consumer,
  type Producer,
} from 'kafkajs';
import { BrokerProcess } from '../support/broker-process.js';
import { WireClient } from '../support/wire-client.js';
import { ErrorCode } from '../../src/protocol/error-codes.js';

const PYTHON = '/usr/bin/python3';
const KCAT = '/usr/bin/kcat';
const PARTITIONS = 4;
const OFFSET_DELETE = 47;
const GROUP_SUBSCRIBED_TO_TOPIC = 86;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

let broker: BrokerProcess;
let kafka: Kafka;
let admin: Admin;
let producer: Producer;

beforeAll(async () => {
  broker = await BrokerProcess.start({
    env: {
      KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS: '100',
      KAFSCALE_GROUP_MIN_SESSION_TIMEOUT_MS: '1000',
      KAFSCALE_AUTO_CREATE_PARTITIONS: String(PARTITIONS),
    },
  });
  kafka = new Kafka({
    clientId: 'groups-test',
    brokers: [broker.bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1000 },
  });
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ allowAutoTopicCreation: true });
  await producer.connect();
});

afterAll(async () => {
  await producer?.disconnect().catch(() => undefined);
  await admin?.disconnect().catch(() => undefined);
  await broker?.destroy();
});

/** Produces `count` records `<prefix>-<i>` round-robin over the partitions (creating the topic). */
async function produceValues(topic: string, prefix: string, count: number, from = 0) {
  const messages = Array.from({ length: count }, (_, i) => ({
    partition: (from + i) % PARTITIONS,
    value: `${prefix}-${from + i}`,
  }));
  await producer.send({ topic, messages });
  return messages.map((m) => m.value);
}

async function highWatermarks(topic: string): Promise<Map<number, number>> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return new Map(offsets.map((o) => [o.partition, Number(o.high)]));
}

async function committed(groupId: string, topic: string): Promise<Map<number, number>> {
  const [result] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return new Map(result.partitions.map((p) => [p.partition, Number(p.offset)]));
}

function duplicates(values: string[]): string[] {
  const seen = new Set<string>();
  return values.filter((v) => (seen.has(v) ? true : (seen.add(v), false)));
}

function runPython(script: string, job: unknown, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      PYTHON,
      ['-c', script],
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`python3 failed (${error.message}):\n${stderr.slice(-4000)}`));
        else resolve(stdout);
      },
    );
    child.stdin!.end(JSON.stringify(job));
  });
}

async function offsetDelete(
  groupId: string,
  topic: string,
  partitions: number[],
): Promise<{ errorCode: number; partitions: Map<number, number> }> {
  const client = await WireClient.connect(broker.port);
  try {
    const { body } = await client.request<{
      errorCode: number;
      topics: { name: string; partitions: { partitionIndex: number; errorCode: number }[] }[];
    }>(OFFSET_DELETE, 0, {
      groupId,
      topics: [
        { name: topic, partitions: partitions.map((partitionIndex) => ({ partitionIndex })) },
      ],
    });
    return {
      errorCode: body.errorCode,
      partitions: new Map(
        (body.topics[0]?.partitions ?? []).map((p) => [p.partitionIndex, p.errorCode]),
      ),
    };
  } finally {
    await client.close();
  }
}

// -------------------------------------------------------------------------------------------
// (a) + (f) kafkajs consumers and admin

describe('kafkajs', () => {
  const topic = 'kjs-orders';
  const groupId = 'kjs-group';
  const consumers = new Map<string, Consumer>();
  /** Latest assignment (partitions of `topic`) each consumer got from a rebalance. */
  const assignments = new Map<string, number[]>();
  const consumed: { consumer: string; partition: number; value: string }[] = [];
  const produced: string[] = [];

  async function startConsumer(name: string): Promise<void> {
    const consumer = kafka.consumer({
      groupId,
      sessionTimeout: 6000,
      rebalanceTimeout: 10_000,
      heartbeatInterval: 300,
      maxWaitTimeInMs: 200,
      retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      assignments.set(name, [...(payload.memberAssignment[topic] ?? [])].sort());
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        consumed.push({ consumer: name, partition, value: message.value!.toString() });
      },
    });
    consumers.set(name, consumer);
  }

  /** The named consumers' latest assignments split the partitions: disjoint, complete, none empty. */
  function splitAmong(names: string[]): boolean {
    const all = names.map((n) => assignments.get(n) ?? []);
    const union = all.flat();
    return (
      all.every((a) => a.length > 0) &&
      union.length === PARTITIONS &&
      new Set(union).size === PARTITIONS
    );
  }

  async function describedAssignments(): Promise<Map<string, number[]>> {
    const { groups } = await admin.describeGroups([groupId]);
    return new Map(
      groups[0].members.map((m) => {
        const decoded = AssignerProtocol.MemberAssignment.decode(m.memberAssignment);
        return [m.memberId, [...(decoded?.assignment[topic] ?? [])].sort()];
      }),
    );
  }

  afterAll(async () => {
    for (const c of consumers.values()) await c.disconnect().catch(() => undefined);
  });

  test('(a) consumers split the partitions, rebalance on join and leave, and consume every record once', async () => {
    produced.push(...(await produceValues(topic, 'v', 40)));
    let producing = true;
    const producerLoop = (async () => {
      while (producing) {
        produced.push(...(await produceValues(topic, 'v', 8, produced.length)));
        await sleep(60);
      }
    })();

    await Promise.all([startConsumer('c1'), startConsumer('c2')]);
    await waitFor('c1 and c2 to split the partitions', () => splitAmong(['c1', 'c2']));
    expect(assignments.get('c1')!.length).toBe(2);
    expect(assignments.get('c2')!.length).toBe(2);
    await waitFor('both consumers to consume', () =>
      ['c1', 'c2'].every((n) => consumed.some((c) => c.consumer === n)),
    );

    // A third member: a rebalance gives it partitions taken from the others.
    await startConsumer('c3');
    await waitFor('c1, c2 and c3 to split the partitions', () => splitAmong(['c1', 'c2', 'c3']));
    await waitFor('c3 to consume', () => consumed.some((c) => c.consumer === 'c3'));
    const described = await describedAssignments();
    expect(described.size).toBe(3);
    expect([...described.values()].flat().sort()).toEqual([0, 1, 2, 3]);

    // c1 leaves: its partitions move to c2 and c3.
    const c1Partitions = assignments.get('c1')!;
    await consumers.get('c1')!.disconnect();
    consumers.delete('c1');
    assignments.delete('c1');
    await waitFor('c2 and c3 to take over c1 partitions', () => splitAmong(['c2', 'c3']));
    const consumedBefore = consumed.length;
    await waitFor('more records after c1 left', () => consumed.length > consumedBefore + 20);
    const takenOver = consumed
      .slice(consumedBefore)
      .filter((c) => c1Partitions.includes(c.partition));
    expect(takenOver.length).toBeGreaterThan(0);
    expect(takenOver.every((c) => c.consumer !== 'c1')).toBe(true);

    producing = false;
    await producerLoop;
    await waitFor(
      `all ${produced.length} records to be consumed`,
      () => new Set(consumed.map((c) => c.value)).size >= produced.length,
    );
    await sleep(500);
    const values = consumed.map((c) => c.value);
    expect(duplicates(values)).toEqual([]);
    expect(values.sort()).toEqual([...produced].sort());
    // Every partition was consumed by more than one member over the test.
    const owners = new Map<number, Set<string>>();
    for (const c of consumed)
      owners.set(c.partition, (owners.get(c.partition) ?? new Set()).add(c.consumer));
    expect([...owners.values()].some((o) => o.size > 1)).toBe(true);
  }, 90_000);

  test('(f) admin: describeGroups, listGroups, fetchOffsets, deleteGroups and OffsetDelete', async () => {
    // Two members remain (c2, c3).
    const { groups } = await admin.describeGroups([groupId]);
    expect(groups[0]).toMatchObject({
      groupId,
      state: 'Stable',
      protocolType: 'consumer',
      protocol: 'RoundRobinAssigner',
      errorCode: 0,
    });
    expect(groups[0].members).toHaveLength(2);
    for (const m of groups[0].members) {
      expect(m.clientId).toBe('groups-test');
      const subscription = AssignerProtocol.MemberMetadata.decode(m.memberMetadata);
      expect(subscription?.topics).toEqual([topic]);
    }
    const listed = await admin.listGroups();
    expect(listed.groups).toContainEqual({ groupId, protocolType: 'consumer' });

    // Non-empty groups cannot be deleted, and their subscribed offsets not removed.
    const deleteError = await admin.deleteGroups([groupId]).then(
      () => null,
      (err: { groups?: { groupId: string; errorCode: number }[] }) => err,
    );
    expect(deleteError?.groups).toEqual([
      expect.objectContaining({ groupId, errorCode: ErrorCode.NON_EMPTY_GROUP }),
    ]);
    const activeDelete = await offsetDelete(groupId, topic, [0]);
    expect(activeDelete.errorCode).toBe(ErrorCode.NONE);
    expect(activeDelete.partitions.get(0)).toBe(GROUP_SUBSCRIBED_TO_TOPIC);
    // Offsets of a topic the active group does not subscribe to can go.
    const unsubscribed = await offsetDelete(groupId, `${topic}-unsubscribed`, [0]);
    expect(unsubscribed.errorCode).toBe(ErrorCode.NONE);
    expect(unsubscribed.partitions.get(0)).toBe(ErrorCode.NONE);

    for (const c of consumers.values()) await c.disconnect();
    consumers.clear();
    const { groups: after } = await admin.describeGroups([groupId]);
    expect(after[0].state).toBe('Empty');
    expect(after[0].members).toEqual([]);

    // Every record was consumed and committed: the committed offsets are the high watermarks.
    const high = await highWatermarks(topic);
    expect(await committed(groupId, topic)).toEqual(high);

    // OffsetDelete on the empty group removes just the partitions asked for.
    const deleted = await offsetDelete(groupId, topic, [0, 2]);
    expect(deleted.errorCode).toBe(ErrorCode.NONE);
    expect([...deleted.partitions]).toEqual([
      [0, ErrorCode.NONE],
      [2, ErrorCode.NONE],
    ]);
    const remaining = await committed(groupId, topic);
    expect(remaining.get(0)).toBe(-1);
    expect(remaining.get(2)).toBe(-1);
    expect(remaining.get(1)).toBe(high.get(1));
    expect(remaining.get(3)).toBe(high.get(3));
    const unknownGroup = await offsetDelete('no-such-group', topic, [0]);
    expect(unknownGroup.errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND);

    // Now the group deletes, with its offsets.
    await expect(admin.deleteGroups([groupId])).resolves.toEqual([
      expect.objectContaining({ groupId, errorCode: 0 }),
    ]);
    const { groups: gone } = await admin.describeGroups([groupId]);
    expect(gone[0].state).toBe('Dead');
    expect((await admin.listGroups()).groups.map((g) => g.groupId)).not.toContain(groupId);
    expect([...(await committed(groupId, topic)).values()]).toEqual([-1, -1, -1, -1]);
    const missing = await admin.deleteGroups([groupId]).then(
      () => null,
      (err: { groups?: { groupId: string; errorCode: number }[] }) => err,
    );
    expect(missing?.groups).toEqual([
      expect.objectContaining({ groupId, errorCode: ErrorCode.GROUP_ID_NOT_FOUND }),
    ]);
  });
});

// -------------------------------------------------------------------------------------------
// (b) confluent-kafka

const CONFLUENT_GROUP_CONSUME = `
import sys, json, time
from confluent_kafka import Consumer
job = json.load(sys.stdin)
errors = []
c = Consumer({'bootstrap.servers': job['bootstrap'], 'group.id': job['group'],
              'client.id': 'confluent-group', 'auto.offset.reset': 'earliest',
              'enable.auto.commit': False, 'session.timeout.ms': 6000,
              'heartbeat.interval.ms': 500}, error_cb=lambda e: errors.append(str(e)))
c.subscribe([job['topic']])
got = []
deadline = time.time() + job['timeout']
def take(m):
    if m is None: return
    if m.error():
        errors.append(str(m.error()))
        return
    got.append([m.partition(), m.offset(), m.value().decode()])
while len(got) < job['count']:
    if time.time() > deadline: sys.exit(f'timed out with {len(got)} records; errors: {errors}')
    take(c.poll(0.2))
linger = time.time() + job['linger']
while time.time() < linger:
    take(c.poll(0.1))
offsets = c.commit(asynchronous=False)
print(json.dumps({'records': got,
                  'committed': [[tp.partition, tp.offset] for tp in (offsets or [])],
                  'assignment': sorted(tp.partition for tp in c.assignment())}))
c.close()
`;

interface PythonGroupResult {
  records: [number, number, string][];
  committed: [number, number][];
  assignment: number[];
}

test('(b) confluent-kafka subscribes, commits, and resumes from the commit after a broker restart', async () => {
  const topic = 'confluent-group-topic';
  const group = 'confluent-group';
  const produced = await produceValues(topic, 'c', 100);
  const job = { bootstrap: broker.bootstrap, group, topic, timeout: 30 };
  const first = JSON.parse(
    await runPython(CONFLUENT_GROUP_CONSUME, { ...job, count: 60, linger: 0 }),
  ) as PythonGroupResult;
  expect(first.assignment).toEqual([0, 1, 2, 3]);
  expect(first.records.length).toBeGreaterThanOrEqual(60);
  // What was committed is exactly what was consumed: next offset per partition.
  const positions = new Map<number, number>();
  for (const [p, o] of first.records) positions.set(p, Math.max(positions.get(p) ?? 0, o + 1));
  expect(new Map(first.committed.filter(([, o]) => o >= 0))).toEqual(positions);

  await broker.restart();
  // The committed offsets survived the restart.
  const afterRestart = await committed(group, topic);
  for (let p = 0; p < PARTITIONS; p++) expect(afterRestart.get(p)).toBe(positions.get(p) ?? -1);

  const rest = 100 - first.records.length;
  const second = JSON.parse(
    await runPython(CONFLUENT_GROUP_CONSUME, { ...job, count: rest, linger: 1.5 }),
  ) as PythonGroupResult;
  const firstValues = first.records.map((r) => r[2]);
  const secondValues = second.records.map((r) => r[2]);
  // No re-delivery of committed records, nothing lost.
  expect(secondValues.filter((v) => firstValues.includes(v))).toEqual([]);
  expect(duplicates(secondValues)).toEqual([]);
  expect([...firstValues, ...secondValues].sort()).toEqual([...produced].sort());
  for (const [p, o] of second.records) expect(o).toBeGreaterThanOrEqual(positions.get(p) ?? 0);
  expect(await committed(group, topic)).toEqual(await highWatermarks(topic));
});

// -------------------------------------------------------------------------------------------
// (c) kafka-python

const KAFKA_PYTHON_GROUP_CONSUME = `
import sys, json, time, logging
logging.basicConfig(level=logging.CRITICAL)
from kafka import KafkaConsumer
job = json.load(sys.stdin)
c = KafkaConsumer(job['topic'], bootstrap_servers=job['bootstrap'], group_id=job['group'],
                  client_id='kafka-python-group', auto_offset_reset='earliest',
                  enable_auto_commit=False, session_timeout_ms=6000, heartbeat_interval_ms=500)
got = []
deadline = time.time() + job['timeout']
while len(got) < job['count']:
    if time.time() > deadline: sys.exit(f'timed out with {len(got)} records')
    for tp, msgs in c.poll(timeout_ms=200).items():
        got += [[m.partition, m.offset, m.value.decode()] for m in msgs]
linger = time.time() + job['linger']
while time.time() < linger:
    for tp, msgs in c.poll(timeout_ms=100).items():
        got += [[m.partition, m.offset, m.value.decode()] for m in msgs]
c.commit()
assignment = sorted(tp.partition for tp in c.assignment())
c.close()
print(json.dumps({'records': got, 'committed': [], 'assignment': assignment}))
`;

test('(c) kafka-python consumes with group_id and commits; the group continues from there', async () => {
  const topic = 'kafka-python-group-topic';
  const group = 'kafka-python-group';
  const produced = await produceValues(topic, 'k', 30);
  const job = { bootstrap: broker.bootstrap, group, topic, timeout: 30 };
  const first = JSON.parse(
    await runPython(KAFKA_PYTHON_GROUP_CONSUME, { ...job, count: 30, linger: 0.5 }),
  ) as PythonGroupResult;
  expect(first.assignment).toEqual([0, 1, 2, 3]);
  expect(first.records.map((r) => r[2]).sort()).toEqual([...produced].sort());
  expect(await committed(group, topic)).toEqual(await highWatermarks(topic));

  const more = await produceValues(topic, 'k', 10, 30);
  const second = JSON.parse(
    await runPython(KAFKA_PYTHON_GROUP_CONSUME, { ...job, count: 10, linger: 1 }),
  ) as PythonGroupResult;
  expect(second.records.map((r) => r[2]).sort()).toEqual([...more].sort());
  expect(await committed(group, topic)).toEqual(await highWatermarks(topic));
});

// -------------------------------------------------------------------------------------------
// (d) kcat -G

interface KcatMember {
  child: ChildProcess;
  lines: string[];
  stderr: string;
}

function startKcat(group: string, topic: string, clientId: string): KcatMember {
  const child = spawn(KCAT, [
    '-b',
    broker.bootstrap,
    '-X',
    `client.id=${clientId}`,
    '-X',
    'auto.offset.reset=earliest',
    '-X',
    'session.timeout.ms=6000',
    '-X',
    'heartbeat.interval.ms=500',
    '-q',
    '-u',
    '-f',
    '%p %o %s\\n',
    '-G',
    group,
    topic,
  ]);
  const member: KcatMember = { child, lines: [], stderr: '' };
  let partial = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop()!;
    member.lines.push(...parts);
  });
  child.stderr.on('data', (chunk: Buffer) => {
    member.stderr += chunk.toString();
  });
  return member;
}

async function stopKcat(member: KcatMember): Promise<void> {
  if (member.child.exitCode !== null) return;
  const exited = new Promise((resolve) => member.child.once('exit', resolve));
  member.child.kill('SIGINT');
  const timer = setTimeout(() => member.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

test('(d) two kcat -G balanced consumers split the partitions and consume every record once', async () => {
  const topic = 'kcat-group-topic';
  const group = 'kcat-group';
  await produceValues(topic, 'warmup', PARTITIONS);
  const members = [startKcat(group, topic, 'kcat-a'), startKcat(group, topic, 'kcat-b')];
  try {
    let byClient = new Map<string, number[]>();
    await waitFor('both kcat members to share the partitions', async () => {
      const { groups } = await admin.describeGroups([group]);
      if (groups[0].state !== 'Stable' || groups[0].members.length !== 2) return false;
      byClient = new Map(
        groups[0].members.map((m) => [
          m.clientId,
          [
            ...(AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment[topic] ??
              []),
          ].sort(),
        ]),
      );
      const all = [...byClient.values()];
      return all.every((a) => a.length > 0) && new Set(all.flat()).size === PARTITIONS;
    });
    expect([...byClient.keys()].sort()).toEqual(['kcat-a', 'kcat-b']);
    expect([...byClient.values()].flat().sort()).toEqual([0, 1, 2, 3]);

    const produced = await produceValues(topic, 'g', 200);
    const all = () => members.flatMap((m) => m.lines);
    await waitFor('kcat to consume everything', () => all().length >= 200 + PARTITIONS);
    await sleep(500);
    const values = all().map((l) => l.split(' ')[2]);
    expect(duplicates(values)).toEqual([]);
    expect(values.filter((v) => v.startsWith('g-')).sort()).toEqual([...produced].sort());
    // Each member read only its own partitions.
    members.forEach((m, i) => {
      const own = byClient.get(i === 0 ? 'kcat-a' : 'kcat-b')!;
      expect(m.lines.length).toBeGreaterThan(0);
      for (const line of m.lines) expect(own).toContain(Number(line.split(' ')[0]));
    });
  } finally {
    for (const m of members) await stopKcat(m);
  }
  // kcat commits what it consumed when it closes.
  expect(await committed(group, topic)).toEqual(await highWatermarks(topic));
  const { groups } = await admin.describeGroups([group]);
  expect(groups[0].state).toBe('Empty');
});

// -------------------------------------------------------------------------------------------
// (e) @platformatic/kafka

test('(e) @platformatic/kafka consumer group consumes and commits on its defaults', async () => {
  const topic = 'platformatic-group-topic';
  const group = 'platformatic-group';
  const produced = await produceValues(topic, 'p', 40);
  const consumer = new PlatformaticConsumer({
    clientId: 'platformatic-group',
    bootstrapBrokers: [broker.bootstrap],
    groupId: group,
  });
  const values: string[] = [];
  try {
    const stream = await consumer.consume({
      topics: [topic],
      mode: MessagesStreamModes.EARLIEST,
    });
    // With its default autocommit, the stream commits what it delivered after each fetch.
    const commitErrors: string[] = [];
    stream.on('autocommit', (error: Error | null) => {
      if (error)
        commitErrors.push(
          String(error) + JSON.stringify((error as { errors?: unknown }).errors ?? ''),
        );
    });
    await new Promise<void>((resolve, reject) => {
      stream.on('error', reject);
      stream.on('data', (message: { value: Buffer }) => {
        values.push(Buffer.from(message.value).toString());
        if (values.length === produced.length) resolve();
      });
    });
    // close() waits for the autocommit in flight.
    await stream.close();
    expect(commitErrors).toEqual([]);
    expect(values.sort()).toEqual([...produced].sort());
    const high = await highWatermarks(topic);
    await waitFor(
      'the autocommits to land',
      async () => {
        const offsets = await committed(group, topic);
        return [...high].every(([p, o]) => offsets.get(p) === o);
      },
      10_000,
    );
    const { groups } = await admin.describeGroups([group]);
    expect(groups[0].protocolType).toBe('consumer');
  } finally {
    await consumer.close(true);
  }
});
