// Scenario 6: a cluster with a managed etcd (a StatefulSet running Debian's etcd as its pod) and
// backups on. The snapshot CronJob, run on demand as `kubectl create job --from=cronjob/...`
// would, puts a snapshot and its .sha256 in the bucket; restoring it into a fresh etcd brings
// back the topics and the committed offsets, as a new broker on that etcd serves them.
import { jest } from '@jest/globals';
import { Kafka, logLevel } from 'kafkajs';
import { BrokerProcess } from '../../../broker/test/support/broker-process.js';
import { consume, produce } from '../../../broker/test/support/clients.js';
import { EtcdServer } from '../../../broker/test/support/etcd.js';
import { kafscale } from '../../../broker/test/security/cli.js';
import { S3ObjectStore } from '../../../broker/src/storage/s3-object-store.js';
import { eventually } from '../support/emulated-cluster.js';
import { startProduct, type ProductCluster } from '../support/product-cluster.js';

jest.setTimeout(300_000);

const TOPIC = 'kept';
const GROUP = 'keepers';
const COUNT = 40;

let c: ProductCluster;
let fresh: EtcdServer | undefined;

beforeAll(async () => {
  c = await startProduct();
});

afterAll(async () => {
  await fresh?.destroy();
  await c?.stop();
});

const kafkaAt = (bootstrap: string) =>
  new Kafka({
    clientId: 'e2e-snapshot',
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1000 },
  });

/** A kafkajs consumer joins the group, reads every record, commits and leaves. */
async function readAndCommit(bootstrap: string): Promise<void> {
  const consumer = kafkaAt(bootstrap).consumer({
    groupId: GROUP,
    sessionTimeout: 10_000,
    heartbeatInterval: 500,
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
    let seen = 0;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`consumer saw ${seen}/${COUNT}`)), 60_000);
      void consumer
        .run({
          eachMessage: async () => {
            if (++seen === COUNT) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
}

test('the snapshot CronJob puts a snapshot in the bucket; a restore brings back topics and offsets', async () => {
  await c.applyCluster('vault', {
    etcd: { managed: { replicas: 1, backup: { enabled: true, retention: 5 } } },
  });
  await c.waitReady('vault', 150_000);
  const sts = await c.getJson('statefulset', 'vault-etcd');
  expect(sts.status.readyReplicas).toBe(1);
  const cronJob = await c.getJson('cronjob', 'vault-etcd-snapshot');
  expect(cronJob.spec.schedule).toBeTruthy();

  const bootstrap = c.bootstrap('vault');
  const sent = await produce(
    'kcat',
    bootstrap,
    Array.from({ length: COUNT }, (_, i) => ({
      topic: TOPIC,
      key: Buffer.from(`k${i}`),
      value: Buffer.from(`v${i}`),
    })),
  );
  expect(sent).toHaveLength(COUNT);
  await readAndCommit(bootstrap);

  // What `kubectl create job --from=cronjob/vault-etcd-snapshot` does, then wait for the Job.
  const job = await c.runner.runCronJob('default', 'vault-etcd-snapshot');
  await eventually(
    async () => (await c.getJson('job', job)).status?.succeeded === 1,
    `snapshot job ${job} succeeded\n${c.runner.logs().slice(-8000)}`,
    90_000,
  );
  await eventually(
    async () => (await c.getJson('cronjob', 'vault-etcd-snapshot')).status?.lastSuccessfulTime,
    'the CronJob records its successful run',
    10_000,
  );

  // The snapshot and its checksum, under the prefix the operator gave the CronJob.
  const config = (await c.getJson('configmap', 'vault-broker-config')).data as Record<
    string,
    string
  >;
  // The brokers use the managed etcd, not this test's own.
  expect(config.KAFSCALE_ETCD_ENDPOINTS).toMatch(
    /^http:\/\/vault-etcd-0\.vault-etcd\.default\.svc\./,
  );
  const objects = new S3ObjectStore({
    bucket: c.s3.bucket,
    region: c.s3.region,
    endpoint: c.s3.endpoint,
    forcePathStyle: true,
    credentials: c.s3.credentials,
  });
  const prefix = 'etcd-snapshots/default/vault/';
  const listed = (await objects.list(prefix)).map((o) => o.key).sort();
  expect(listed).toHaveLength(2);
  const [snapshotKey, checksumKey] = listed;
  expect(snapshotKey).toMatch(/\/snapshot-\d{8}T\d{9}Z\.json$/);
  expect(checksumKey).toBe(`${snapshotKey}.sha256`);

  // Restore into a fresh etcd with the brokers' own settings, pointed at the new store.
  fresh = await EtcdServer.start();
  const brokerSettings = Object.fromEntries(
    Object.entries(config).filter(
      ([k]) => k.startsWith('KAFSCALE_S3_') || k === 'KAFSCALE_CLUSTER_NAME',
    ),
  );
  const env = {
    ...brokerSettings,
    KAFSCALE_ETCD_ENDPOINTS: fresh.endpoint,
    KAFSCALE_S3_ACCESS_KEY: c.s3.credentials.accessKeyId,
    KAFSCALE_S3_SECRET_KEY: c.s3.credentials.secretAccessKey,
  };
  const restored = await kafscale(['snapshot', 'restore', '--key', snapshotKey], env);
  expect({ code: restored.code, stderr: restored.stderr }).toMatchObject({ code: 0 });
  expect(restored.stdout).toMatch(/^restored \d+ keys into \/kafscale\/default\.vault\//);

  // A broker on the restored etcd and the same bucket serves the topic and the group's offsets.
  const broker = await BrokerProcess.start({ env: { ...env, KAFSCALE_METRICS_ADDR: 'off' } });
  try {
    const admin = kafkaAt(broker.bootstrap).admin();
    await admin.connect();
    try {
      expect(await admin.listTopics()).toContain(TOPIC);
      const ends = await admin.fetchTopicOffsets(TOPIC);
      const [offsets] = await admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] });
      const committed = new Map(offsets.partitions.map((p) => [p.partition, Number(p.offset)]));
      for (const end of ends) expect(committed.get(end.partition)).toBe(Number(end.high));
      expect(ends.reduce((sum, e) => sum + Number(e.high), 0)).toBe(COUNT);
    } finally {
      await admin.disconnect();
    }
    const read = await consume('kcat', broker.bootstrap, TOPIC);
    expect(read.records.map((r) => r.value!.toString()).sort()).toEqual(
      sent.map((_, i) => `v${i}`).sort(),
    );
  } finally {
    await broker.stop();
  }
  await objects.close();
});
