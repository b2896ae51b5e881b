// Scenarios 1 and 2: the chart installs the operator, a KafScaleCluster becomes Ready with broker
// pods run as real processes, clients produce and consume through the bootstrap Service, and
// KafScaleTopic resources create, grow and delete topics.
import { consume, produce } from '../../../broker/test/support/clients.js';
import { eventually } from '../support/emulated-cluster.js';
import { startProduct, type ProductCluster } from '../support/product-cluster.js';

import { jest } from '@jest/globals';
import { Kafka, logLevel } from 'kafkajs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

jest.setTimeout(240_000);

const execFileAsync = promisify(execFile);

let c: ProductCluster;

beforeAll(async () => {
  c = await startProduct();
});

afterAll(async () => {
  await c?.stop();
});

const records = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => ({
    key: Buffer.from(`k${i}`),
    value: Buffer.from(`${tag}-${i}`),
  }));

test('helm template | kubectl apply, then a sample cluster: Ready, and kcat and kafkajs produce and consume', async () => {
  await c.applyCluster('demo');
  await c.waitReady('demo');
  const table = await c.ok(['get', 'kafscaleclusters']);
  expect(table).toMatch(/demo\s+True\s+1\s+kafscale-test/);
  const deployment = await c.getJson('deployment', 'demo-broker');
  expect(deployment.status.readyReplicas).toBe(1);

  const bootstrap = c.bootstrap('demo');
  const sent = await produce(
    'kcat',
    bootstrap,
    records(50, 'kcat').map((r) => ({ ...r, topic: 'e2e-kcat' })),
  );
  expect(sent).toHaveLength(50);
  const viaKafkajs = await consume('kcat', bootstrap, 'e2e-kcat');
  expect(viaKafkajs.records.map((r) => r.value?.toString())).toEqual(
    records(50, 'kcat').map((r) => r.value.toString()),
  );
  const js = await produce(
    'kafkajs',
    bootstrap,
    records(20, 'js').map((r) => ({ ...r, topic: 'e2e-js' })),
  );
  expect(js).toHaveLength(20);
  const back = await consume('confluent-kafka', bootstrap, 'e2e-js');
  expect(back.records).toHaveLength(20);
});

const topicYaml = (name: string, partitions: number) => `
apiVersion: kafscale.io/v1alpha1
kind: KafScaleTopic
metadata:
  name: ${name}
spec:
  clusterRef:
    name: demo
  partitions: ${partitions}
  retentionMs: 86400000
`;

/** Partition count of a topic as a Kafka client sees it (kcat -L of all topics, which auto-creates none). */
async function partitionsSeen(topic: string): Promise<number> {
  // Asynchronously: the Service proxy lives in this process and must keep forwarding.
  const { stdout: out } = await execFileAsync(
    '/usr/bin/kcat',
    ['-L', '-J', '-b', c.bootstrap('demo')],
    { encoding: 'utf8', timeout: 20_000 },
  );
  const meta = JSON.parse(out) as {
    topics: { topic: string; partitions: unknown[]; error?: string }[];
  };
  const t = meta.topics.find((x) => x.topic === topic);
  return t && !t.error ? t.partitions.length : 0;
}

test('KafScaleTopic: kubectl apply creates the topic, editing partitions grows it, deleting deletes it', async () => {
  await c.ok(['apply', '-f', '-'], topicYaml('orders', 3));
  await eventually(
    async () => (await partitionsSeen('orders')) === 3,
    'orders with 3 partitions',
    60_000,
  );
  await eventually(
    async () => (await c.getJson('kafscaletopic', 'orders')).status?.phase === 'Ready',
    'orders Ready',
    30_000,
  );
  await c.ok(['apply', '-f', '-'], topicYaml('orders', 5));
  await eventually(async () => (await partitionsSeen('orders')) === 5, 'orders grown to 5', 60_000);
  await c.ok(['delete', 'kafscaletopic', 'orders']);
  await eventually(async () => (await partitionsSeen('orders')) === 0, 'orders deleted', 60_000);
});

test('invalid resources are refused by the schema or marked, and the operator keeps serving others', async () => {
  const refused = await c.k(['apply', '-f', '-'], topicYaml('bad', 0));
  expect(refused.code).not.toBe(0);
  expect(refused.stderr).toMatch(/partitions/);
  await c.ok(
    ['apply', '-f', '-'],
    topicYaml('orphan', 1).replace('name: demo', 'name: no-such-cluster'),
  );
  await eventually(
    async () =>
      (await c.getJson('kafscaletopic', 'orphan')).status?.conditions?.find(
        (x: { type: string }) => x.type === 'Ready',
      )?.reason === 'ClusterNotFound',
    'orphan marked ClusterNotFound',
    30_000,
  );
  await c.ok(['apply', '-f', '-'], topicYaml('served', 2));
  await eventually(async () => (await partitionsSeen('served')) === 2, 'served created', 60_000);
  await c.ok(['delete', 'kafscaletopic', 'orphan', 'served']);
});

test('deleting the leading operator pod hands over to the other replica', async () => {
  const lease = await c.getJson('lease', 'kafscale-operator');
  const leader = lease.spec.holderIdentity as string;
  expect(c.runner.pods('default').map((p) => p.name)).toContain(leader);
  await c.ok(['delete', 'pod', leader]);
  await eventually(
    async () => {
      const holder = (await c.getJson('lease', 'kafscale-operator')).spec.holderIdentity;
      return holder && holder !== leader;
    },
    'a new leader',
    60_000,
  );
  // The new leader reconciles: a new topic appears.
  await c.ok(['apply', '-f', '-'], topicYaml('after-handover', 1));
  await eventually(
    async () => (await partitionsSeen('after-handover')) === 1,
    'topic after handover',
    60_000,
  );
});

/**
 * A kafkajs consumer group member reading `topic` from the beginning, recording
 * partition@offset -> value of what it is given, and every crash it did not restart from.
 */
async function groupReader(bootstrap: string, topic: string, groupId: string) {
  const seen = new Map<string, string | undefined>();
  const fatal: string[] = [];
  const consumer = new Kafka({
    clientId: 'e2e-scale-reader',
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
  }).consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500 });
  consumer.on(consumer.events.CRASH, (e) => {
    if (!e.payload.restart) fatal.push(String(e.payload.error));
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      seen.set(`${partition}@${message.offset}`, message.value?.toString());
    },
  });
  return { seen, fatal, stop: () => consumer.disconnect() };
}

test('kubectl scale kafscalecluster 1 -> 3 -> 1 under acks=all produce and a consumer group loses nothing', async () => {
  const bootstrap = c.bootstrap('demo');
  // partition@offset -> value of every record the producer saw acknowledged.
  const acked = new Map<string, string>();
  let round = 0;
  const produceRound = async () => {
    const batch = records(100, `scale-${round++}`).map((r) => ({ ...r, topic: 'scaled' }));
    const delivered = await produce('confluent-kafka', bootstrap, batch).catch(() => []);
    delivered.forEach((d, i) => acked.set(`${d.partition}@${d.offset}`, batch[i].value.toString()));
  };
  // The topic exists (auto-created by the first round) before the group subscribes to it.
  await eventually(
    async () => {
      await produceRound();
      return acked.size > 0;
    },
    'first produce',
    30_000,
  );
  const reader = await groupReader(bootstrap, 'scaled', 'scale-readers');
  let producing = true;
  const producer = (async () => {
    while (producing) await produceRound();
  })();
  const replicasReady = (n: number) =>
    eventually(
      async () => {
        const d = await c.getJson('deployment', 'demo-broker');
        return d.status?.readyReplicas === n && d.status?.replicas === n;
      },
      `${n} brokers ready\n${c.runner.logs().slice(-5000)}`,
      90_000,
    );
  await c.ok(['scale', 'kafscalecluster', 'demo', '--replicas=3']);
  await replicasReady(3);
  await eventually(
    async () => (await c.getJson('kafscalecluster', 'demo')).status.readyReplicas === 3,
    'cluster status with 3 ready brokers',
    30_000,
  );
  await c.ok(['scale', 'kafscalecluster', 'demo', '--replicas=1']);
  await replicasReady(1);
  producing = false;
  await producer;
  expect(acked.size).toBeGreaterThan(0);
  // Right after the scale-down a client may still be pointed at a stopped broker, whose DNS name
  // is gone: read again once metadata has moved on.
  const read = await eventually(() => consume('kcat', bootstrap, 'scaled'), 'read back', 60_000);
  const found = new Map(
    read.records.map((r) => [`${r.partition}@${r.offset}`, r.value?.toString()]),
  );
  const lost = [...acked].filter(([at, value]) => found.get(at) !== value);
  expect(lost).toEqual([]);
  // The group member, which lived through both rebalances and coordinator moves, is given every
  // acknowledged record too.
  try {
    await eventually(
      () => [...acked].every(([at, value]) => reader.seen.get(at) === value),
      'the consumer group reads every acknowledged record',
      60_000,
    ).catch(() => undefined);
    expect(reader.fatal).toEqual([]);
    expect([...acked].filter(([at, value]) => reader.seen.get(at) !== value)).toEqual([]);
  } finally {
    await reader.stop();
  }
});

test('autoscaling on: the HPA exists and the operator leaves Deployment replicas to it', async () => {
  await c.ok([
    'patch',
    'kafscalecluster',
    'demo',
    '--type=merge',
    '-p',
    '{"spec":{"autoscaling":{"enabled":true,"minReplicas":1,"maxReplicas":3}}}',
  ]);
  await eventually(
    async () => (await c.getJson('hpa', 'demo-broker')).spec.maxReplicas === 3,
    'HPA',
    30_000,
  );
  // What the HPA would do: scale the Deployment itself.
  await c.ok(['scale', 'deployment', 'demo-broker', '--replicas=2']);
  await eventually(
    async () => (await c.getJson('deployment', 'demo-broker')).status?.readyReplicas === 2,
    '2 brokers',
    90_000,
  );
  // Several reconciles later the operator has not taken the replicas back.
  await c.ok(['annotate', 'kafscalecluster', 'demo', `e2e/poke=${Date.now()}`, '--overwrite']);
  await new Promise((r) => setTimeout(r, 3000));
  expect((await c.getJson('deployment', 'demo-broker')).spec.replicas).toBe(2);
});

test('deleting the cluster garbage-collects its objects and stops its brokers', async () => {
  await c.ok(['delete', 'kafscalecluster', 'demo']);
  await eventually(
    async () => (await c.k(['get', 'deployment', 'demo-broker'])).code !== 0,
    'Deployment collected',
    30_000,
  );
  await eventually(
    () => !c.runner.pods('default').some((p) => p.name.startsWith('demo-broker')),
    'broker processes stopped',
    60_000,
  );
  expect((await c.k(['get', 'service', 'demo-bootstrap'])).code).not.toBe(0);
});
