// `kafscale snapshot`, `topics` and `groups` against real processes: a broker on a real etcd and
// s3rver gets topics, records (kcat), a consumer group with committed offsets (kafkajs) and a SASL
// user; the CLI snapshots etcd to s3rver, the snapshot restores into a fresh etcd, and a new
// broker on it (same bucket) serves the same topics, records and committed offsets.
import { createHash } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { EtcdMetadataStore } from '../../src/metadata/etcd-metadata-store.js';
import { S3ObjectStore } from '../../src/storage/s3-object-store.js';
import { BrokerProcess } from '../support/broker-process.js';
import { produce, consume } from '../support/clients.js';
import { EtcdServer } from '../support/etcd.js';
import { freePort } from '../support/free-port.js';
import { startS3rver, type S3rver } from '../support/s3rver.js';
import { kafscale } from '../security/cli.js';

const CLUSTER = 'snap';
const TOPIC = 'orders';
const GROUP = 'billing';
const PARTITIONS = 3;
/** Records produced to each partition, and the offsets the group commits. */
const PRODUCED = [5, 3, 4];
const COMMITTED = [4, 1, 0];

let s3: S3rver;
let source: EtcdServer;
let target: EtcdServer;
let objects: S3ObjectStore;
let snapshotKey: string;

const s3Env = () => ({
  KAFSCALE_S3_BUCKET: s3.bucket,
  KAFSCALE_S3_ENDPOINT: s3.endpoint,
  KAFSCALE_S3_REGION: s3.region,
  KAFSCALE_S3_PATH_STYLE: 'true',
  KAFSCALE_S3_ACCESS_KEY: s3.credentials.accessKeyId,
  KAFSCALE_S3_SECRET_KEY: s3.credentials.secretAccessKey,
  KAFSCALE_CLUSTER_NAME: CLUSTER,
});
const envOf = (etcd: EtcdServer) => ({ ...s3Env(), KAFSCALE_ETCD_ENDPOINTS: etcd.endpoint });
const sha256 = (body: Buffer) => createHash('sha256').update(body).digest('hex');

function kafkaAt(broker: BrokerProcess): Kafka {
  return new Kafka({
    clientId: 'snapshot-test',
    brokers: [broker.bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1000 },
  });
}

async function startBroker(etcd: EtcdServer): Promise<BrokerProcess> {
  return BrokerProcess.start({
    env: {
      ...envOf(etcd),
      KAFSCALE_METRICS_ADDR: 'off',
      KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      KAFSCALE_GROUP_MIN_SESSION_TIMEOUT_MS: '1000',
    },
  });
}

/** A kafkajs consumer joins the group, reads everything, commits COMMITTED and leaves. */
async function commitGroupOffsets(kafka: Kafka): Promise<void> {
  const consumer = kafka.consumer({ groupId: GROUP, sessionTimeout: 6000, heartbeatInterval: 500 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
    const total = PRODUCED.reduce((a, b) => a + b, 0);
    let seen = 0;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('consumer timed out')), 30_000);
      consumer
        .run({
          autoCommit: false,
          eachMessage: async () => {
            if (++seen === total) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
    await consumer.commitOffsets(
      COMMITTED.map((offset, partition) => ({ topic: TOPIC, partition, offset: String(offset) })),
    );
  } finally {
    await consumer.disconnect();
  }
}

beforeAll(async () => {
  [s3, source, target] = await Promise.all([startS3rver(), EtcdServer.start(), EtcdServer.start()]);
  objects = new S3ObjectStore(s3.storeConfig());
  const broker = await startBroker(source);
  try {
    const kafka = kafkaAt(broker);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        {
          topic: TOPIC,
          numPartitions: PARTITIONS,
          configEntries: [{ name: 'retention.ms', value: '86400000' }],
        },
      ],
    });
    await admin.disconnect();
    const records = PRODUCED.flatMap((count, partition) =>
      Array.from({ length: count }, (_, i) => ({
        topic: TOPIC,
        partition,
        key: null,
        value: Buffer.from(`p${partition}-m${i}`),
      })),
    );
    await produce('kcat', broker.bootstrap, records);
    await commitGroupOffsets(kafka);
    const user = await kafscale(['users', 'add', 'alice', '--password-stdin'], envOf(source), 'pw');
    expect(user.code).toBe(0);
  } finally {
    await broker.stop();
  }
}, 90_000);

afterAll(async () => {
  await objects?.close();
  await Promise.all([source?.destroy(), target?.destroy(), s3?.stop()]);
});

test('topics and groups commands print what the metadata store holds', async () => {
  const env = envOf(source);
  // Read-only commands, run side by side.
  const [topics, described, topicJsonRun, groups, table, group, missing, noTopic] =
    await Promise.all(
      [
        ['topics', 'list'],
        ['topics', 'describe', TOPIC],
        ['topics', 'describe', TOPIC, '--json'],
        ['groups', 'list', '--json'],
        ['groups', 'list'],
        ['groups', 'describe', GROUP],
        ['groups', 'describe', 'nobody'],
        ['topics', 'describe', 'nothing'],
      ].map((args) => kafscale(args, env)),
    );
  expect(topics.code).toBe(0);
  const lines = topics.stdout.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^TOPIC\s+PARTITIONS\s+MESSAGES\s+TOPIC ID$/);
  expect(lines[1]).toMatch(new RegExp(`^${TOPIC}\\s+${PARTITIONS}\\s+12\\s+[0-9a-f-]{36}$`));

  expect(described.code).toBe(0);
  expect(described.stdout).toContain('Configs:    retention.ms=86400000');
  for (const [p, hwm] of PRODUCED.entries()) {
    // No broker runs: no live leader.
    expect(described.stdout).toMatch(new RegExp(`\\n${p}\\s+-\\s+0\\s+${hwm}\\s+\\d+\\s+\\d+\\n`));
  }
  const topicJson = JSON.parse(topicJsonRun.stdout) as {
    partitionStates: { highWatermark: number; segments: number }[];
  };
  expect(topicJson.partitionStates.map((p) => p.highWatermark)).toEqual(PRODUCED);
  expect(topicJson.partitionStates.every((p) => p.segments >= 1)).toBe(true);

  expect(groups.code).toBe(0);
  const lag = PRODUCED.reduce((sum, hwm, p) => sum + hwm - COMMITTED[p], 0);
  expect(JSON.parse(groups.stdout)).toEqual([
    expect.objectContaining({
      group: GROUP,
      protocolType: 'consumer',
      partitions: 3,
      totalLag: lag,
    }),
  ]);
  expect(table.stdout).toMatch(
    new RegExp(`\\n${GROUP}\\s+consumer\\s+\\d+\\s+\\d+\\s+-\\s+3\\s+${lag}\\n`),
  );

  expect(group.code).toBe(0);
  expect(group.stdout).toContain(`Total lag:     ${lag}`);
  expect(group.stdout).toMatch(/TOPIC\s+PARTITION\s+CURRENT OFFSET\s+LOG END OFFSET\s+LAG/);
  for (const [p, hwm] of PRODUCED.entries()) {
    const row = new RegExp(
      `\\n${TOPIC}\\s+${p}\\s+${COMMITTED[p]}\\s+${hwm}\\s+${hwm - COMMITTED[p]}`,
    );
    expect(group.stdout).toMatch(row);
  }

  expect(missing).toMatchObject({ code: 1, stderr: expect.stringContaining('no group nobody') });
  expect(noTopic).toMatchObject({ code: 1, stderr: expect.stringContaining('no topic nothing') });
});

test('snapshot to s3rver, restore into a fresh etcd, and a broker there serves the same data', async () => {
  const created = await kafscale(
    ['snapshot', 'create', '--bucket', s3.bucket, '--prefix', 'backups'],
    envOf(source),
  );
  expect(created.stderr).not.toContain('kafscale');
  expect(created.code).toBe(0);
  const listed = await objects.list(`backups/${CLUSTER}/`);
  expect(listed.map((o) => o.key.replace(/\d{8}T\d{9}Z/, 'T'))).toEqual([
    `backups/${CLUSTER}/snapshot-T.json`,
    `backups/${CLUSTER}/snapshot-T.json.sha256`,
  ]);
  snapshotKey = listed[0].key;
  expect(created.stdout).toContain(`snapshot s3://${s3.bucket}/${snapshotKey}:`);

  // The .sha256 beside it is sha256sum's format and matches the document.
  const body = await objects.get(snapshotKey);
  const checksum = (await objects.get(`${snapshotKey}.sha256`)).toString();
  expect(checksum).toBe(`${sha256(body)}  ${snapshotKey.split('/').pop()}\n`);
  const doc = JSON.parse(body.toString()) as {
    format: string;
    version: number;
    cluster: string;
    revision: number;
    keyCount: number;
    keys: { key: string; value: string; lease?: boolean }[];
  };
  expect(doc).toMatchObject({ format: 'kafscale-metadata-snapshot', version: 1, cluster: CLUSTER });
  expect(doc.keyCount).toBe(doc.keys.length);
  const keys = doc.keys.map((k) => k.key);
  for (const key of [
    `topics/${TOPIC}`,
    `partitions/${TOPIC}/0`,
    `offsets/${GROUP}/${TOPIC}/0`,
    `groups/${GROUP}`,
    'users/alice',
    'cluster-id',
  ]) {
    expect(keys).toContain(key);
  }
  expect(keys.some((k) => k.startsWith(`segments/${TOPIC}/0/`))).toBe(true);

  // The last successful snapshot is recorded in the source's metadata.
  const store = new EtcdMetadataStore({ endpoints: [source.endpoint] });
  const sourceKeys = await store.getPrefix(`/kafscale/${CLUSTER}/`);
  await store.close();
  const status = sourceKeys.find((kv) => kv.key === `/kafscale/${CLUSTER}/snapshots/last`);
  expect(JSON.parse(status!.value)).toMatchObject({
    bucket: s3.bucket,
    key: snapshotKey,
    sha256: sha256(body),
    revision: doc.revision,
    keys: doc.keys.length,
  });
  const clusterId = sourceKeys.find((kv) => kv.key.endsWith('/cluster-id'))!.value;

  const restored = await kafscale(['snapshot', 'restore', '--key', snapshotKey], envOf(target));
  expect(restored.stderr).not.toContain('kafscale');
  expect(restored.code).toBe(0);
  expect(restored.stdout).toMatch(/^restored \d+ keys into \/kafscale\/snap\/ from s3:/);
  // A second restore onto a store that now holds the cluster is refused.
  const again = await kafscale(['snapshot', 'restore', '--key', snapshotKey], envOf(target));
  expect(again).toMatchObject({ code: 1, stderr: expect.stringContaining('already holds') });

  const broker = await startBroker(target);
  try {
    const kafka = kafkaAt(broker);
    const admin = kafka.admin();
    await admin.connect();
    try {
      expect(await admin.listTopics()).toContain(TOPIC);
      const metadata = await admin.fetchTopicMetadata({ topics: [TOPIC] });
      expect(metadata.topics[0].partitions).toHaveLength(PARTITIONS);
      const ends = await admin.fetchTopicOffsets(TOPIC);
      expect(ends.sort((a, b) => a.partition - b.partition).map((o) => Number(o.high))).toEqual(
        PRODUCED,
      );
      const [offsets] = await admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] });
      expect(
        offsets.partitions.sort((a, b) => a.partition - b.partition).map((p) => Number(p.offset)),
      ).toEqual(COMMITTED);
      const cluster = await admin.describeCluster();
      expect(cluster.clusterId).toBe(clusterId);
    } finally {
      await admin.disconnect();
    }
    // The segments the restored manifests reference are read back from the same bucket.
    const read = await consume('kcat', broker.bootstrap, TOPIC);
    expect(read.records.map((r) => r.value!.toString()).sort()).toEqual(
      PRODUCED.flatMap((n, p) => Array.from({ length: n }, (_, i) => `p${p}-m${i}`)).sort(),
    );
  } finally {
    await broker.stop();
  }
  const users = await kafscale(['users', 'list'], envOf(target));
  expect(users.stdout).toBe('alice\tSCRAM-SHA-256,SCRAM-SHA-512\n');
}, 90_000);

test('retention keeps the newest snapshots; list shows them', async () => {
  const env = envOf(source);
  const args = ['snapshot', 'create', '--prefix', 'kept', '--retention', '2'];
  const runs = [];
  for (let i = 0; i < 4; i++) {
    const run = await kafscale(args, env);
    expect(run.code).toBe(0);
    runs.push(/snapshot s3:\/\/[^/]+\/(\S+):/.exec(run.stdout)![1]);
    await new Promise((r) => setTimeout(r, 5));
  }
  const remaining = (await objects.list(`kept/${CLUSTER}/`)).map((o) => o.key).sort();
  expect(remaining).toEqual([runs[2], `${runs[2]}.sha256`, runs[3], `${runs[3]}.sha256`]);

  const list = await kafscale(['snapshot', 'list', '--prefix', 'kept'], env);
  expect(list.code).toBe(0);
  const lines = list.stdout.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^KEY\s+SIZE\s+CREATED\s+SHA256$/);
  expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual([runs[3], runs[2]]);
  expect(lines.slice(1).every((l) => l.endsWith('yes'))).toBe(true);
});

test('a corrupted or unverifiable snapshot is refused and nothing is written', async () => {
  const fresh = await EtcdServer.start();
  try {
    const body = await objects.get(snapshotKey);
    const checksum = await objects.get(`${snapshotKey}.sha256`);
    const corrupt = Buffer.from(body);
    const at = corrupt.indexOf('"offset":') + '"offset":'.length;
    corrupt[at] = corrupt[at] === 0x39 ? 0x38 : corrupt[at] + 1; // one committed offset changed
    await objects.put('bad/snapshot.json', corrupt);
    await objects.put('bad/snapshot.json.sha256', checksum);
    const refused = await kafscale(
      ['snapshot', 'restore', '--key', 'bad/snapshot.json'],
      envOf(fresh),
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('checksum mismatch');

    await objects.put('bad/unverified.json', body);
    const unverified = await kafscale(
      ['snapshot', 'restore', '--key', 'bad/unverified.json'],
      envOf(fresh),
    );
    expect(unverified.code).toBe(1);
    expect(unverified.stderr).toContain('without its checksum');

    const store = new EtcdMetadataStore({ endpoints: [fresh.endpoint] });
    expect(await store.getPrefix('/')).toEqual([]);
    await store.close();
  } finally {
    await fresh.destroy();
  }
});

test('unreachable etcd, a missing bucket and bad credentials fail with a clear message', async () => {
  const nowhere = `http://127.0.0.1:${await freePort()}`;
  const [down, noBucket, denied, inNamespace] = await Promise.all([
    kafscale(['snapshot', 'create', '--prefix', 'x'], {
      ...s3Env(),
      KAFSCALE_ETCD_ENDPOINTS: nowhere,
    }),
    kafscale(['snapshot', 'create', '--bucket', 'no-such-bucket'], envOf(source)),
    kafscale(['snapshot', 'create', '--prefix', 'x'], {
      ...envOf(source),
      KAFSCALE_S3_ACCESS_KEY: 'NOBODY',
      KAFSCALE_S3_SECRET_KEY: 'wrong-secret',
    }),
    kafscale(['snapshot', 'create', '--prefix', 'kafscale/backups'], envOf(source)),
  ]);
  expect(down.code).toBe(1);
  expect(down.stderr).toContain(`cannot read the metadata store (etcd ${nowhere})`);

  expect(noBucket.code).toBe(1);
  expect(noBucket.stderr).toMatch(
    /cannot upload the snapshot to s3:\/\/no-such-bucket\/.*NoSuchBucket/,
  );

  expect(denied.code).toBe(1);
  expect(denied.stderr).toMatch(
    /cannot upload the snapshot to s3:\/\/kafscale-test\/x\/snap\/.*(InvalidAccessKeyId|AccessDenied|403)/,
  );
  expect(denied.stderr).not.toContain('wrong-secret');

  expect(inNamespace.code).toBe(2);
  expect(inNamespace.stderr).toContain("inside the brokers' namespace");
});
