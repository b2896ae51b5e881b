import { spawn } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { BatchV1Api, CoreV1Api, type V1CronJob } from '@kubernetes/client-node';
import { EtcdServer } from '../../../broker/test/support/etcd.js';
import { startS3rver, type S3rver } from '../../../broker/test/support/s3rver.js';
import type { KafScaleCluster } from '../../src/api/v1alpha1.js';
import { createMetrics, type OperatorMetrics } from '../../src/run.js';
import { cluster, read, startHarness, waitFor, type Harness } from './harness.js';

const V = 'kafscale.io/v1alpha1';
const CLI = fileURLToPath(new URL('../../../broker/src/bin/kafscale.ts', import.meta.url));
const TSX = createRequire(import.meta.url).resolve('tsx/cli');

/** Runs the broker's real admin CLI, as the snapshot Job does. */
function kafscale(args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSX, CLI, ...args], {
      env: { PATH: process.env.PATH, ...env },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`kafscale ${args.join(' ')}: ${out}`)),
    );
  });
}

describe('etcd snapshot monitoring (EtcdSnapshotAccess, kafscale_operator_etcd_snapshot_*)', () => {
  let s3: S3rver;
  let etcd: EtcdServer;
  let h: Harness;
  let core: CoreV1Api;
  let batch: BatchV1Api;
  let metrics: OperatorMetrics;

  beforeAll(async () => {
    s3 = await startS3rver('backups');
    etcd = await EtcdServer.start();
  });
  afterAll(async () => {
    await s3.stop();
    await etcd.destroy();
  });
  beforeEach(async () => {
    h = await startHarness();
    core = h.kc.makeApiClient(CoreV1Api);
    batch = h.kc.makeApiClient(BatchV1Api);
    metrics = createMetrics();
  });
  afterEach(() => h.stop());

  const secret = (name: string, id: string, key: string) =>
    core.createNamespacedSecret({
      namespace: 'default',
      body: {
        metadata: { name },
        // data, not stringData: the API emulator does not fold stringData into data.
        data: {
          AWS_ACCESS_KEY_ID: Buffer.from(id).toString('base64'),
          AWS_SECRET_ACCESS_KEY: Buffer.from(key).toString('base64'),
        },
      },
    });
  const backedUp = (name: string, s3Spec: Record<string, unknown>) =>
    cluster(name, {
      s3: { bucket: 'backups', region: s3.region, pathStyle: true, ...s3Spec },
      etcd: { managed: { backup: { enabled: true, prefix: 'etcd' } } },
    });
  const access = async (name: string) =>
    (await read<KafScaleCluster>(h.client, V, 'KafScaleCluster', name))?.status?.conditions?.find(
      (c) => c.type === 'EtcdSnapshotAccess',
    );
  const series = async (metric: string, name: string) => {
    const text = await metrics.registry.metrics();
    const m = new RegExp(`^${metric}\\{namespace="default",cluster="${name}"\\} (\\S+)$`, 'm').exec(
      text,
    );
    return m ? Number(m[1]) : undefined;
  };
  const finishJob = async (name: string, type: 'Complete' | 'Failed', at: Date) => {
    const job = await batch.createNamespacedJob({
      namespace: 'default',
      body: {
        metadata: {
          name,
          labels: {
            'app.kubernetes.io/instance': 'demo',
            'app.kubernetes.io/component': 'etcd-snapshot',
          },
        },
        spec: {
          template: {
            spec: { restartPolicy: 'Never', containers: [{ name: 'snapshot', image: 'x' }] },
          },
        },
      },
    });
    await batch.replaceNamespacedJobStatus({
      namespace: 'default',
      name,
      body: {
        ...job,
        status: {
          conditions: [{ type, status: 'True', lastTransitionTime: at }],
        },
      },
    });
  };

  test('a reachable bucket: access, the newest snapshot the CLI wrote, its age, the Job outcome', async () => {
    await h.startOperator({
      onSnapshot: metrics.snapshots,
      snapshotCheckIntervalMs: 0,
      resyncMs: 300,
    });
    await secret('s3-creds', s3.credentials.accessKeyId, s3.credentials.secretAccessKey);
    await h.client.create(
      backedUp('demo', { endpoint: s3.endpoint, credentialsSecretRef: { name: 's3-creds' } }),
    );
    const empty = await waitFor(
      async () => (await access('demo'))?.status === 'True' && access('demo'),
      'access',
    );
    expect(empty).toMatchObject({ reason: 'BucketReachable' });
    expect(empty.message).toContain('no snapshot there yet');
    expect(await series('kafscale_operator_etcd_snapshot_access', 'demo')).toBe(1);
    expect(await series('kafscale_operator_etcd_snapshot_age_seconds', 'demo')).toBeUndefined();

    // Exactly what the CronJob runs, with the brokers' ConfigMap as its environment (etcd
    // pointed at the test's server instead of the managed StatefulSet).
    const cronJob = (await read<V1CronJob>(h.client, 'batch/v1', 'CronJob', 'demo-etcd-snapshot'))!;
    const command = cronJob.spec!.jobTemplate.spec!.template.spec!.containers[0].command!;
    expect(command.slice(0, 3)).toEqual(['kafscale', 'snapshot', 'create']);
    const config = await core.readNamespacedConfigMap({
      namespace: 'default',
      name: 'demo-broker-config',
    });
    const before = Date.now();
    await kafscale(command.slice(1), {
      ...config.data,
      KAFSCALE_ETCD_ENDPOINTS: etcd.endpoint,
      KAFSCALE_S3_ACCESS_KEY: s3.credentials.accessKeyId,
      KAFSCALE_S3_SECRET_KEY: s3.credentials.secretAccessKey,
    });

    const found = await waitFor(
      async () => {
        const c = await access('demo');
        return c?.message.includes('newest snapshot') && c;
      },
      'the snapshot',
      10_000,
    );
    expect(found.message).toContain('s3://backups/etcd/default/demo/default.demo/');
    const status = (await read<KafScaleCluster>(h.client, V, 'KafScaleCluster', 'demo'))!.status!;
    const taken = Date.parse(status.lastSnapshotTime!);
    expect(taken).toBeGreaterThanOrEqual(before - 1000);
    expect(taken).toBeLessThanOrEqual(Date.now());
    const age = (await series('kafscale_operator_etcd_snapshot_age_seconds', 'demo'))!;
    expect(age).toBeGreaterThanOrEqual(0);
    expect(age).toBeLessThan(60);
    expect(
      await series('kafscale_operator_etcd_snapshot_last_success_timestamp_seconds', 'demo'),
    ).toBe(taken / 1000);

    // The newest finished Job decides last_success.
    await finishJob('demo-etcd-snapshot-1', 'Complete', new Date(Date.now() - 60_000));
    await waitFor(
      async () => (await series('kafscale_operator_etcd_snapshot_last_success', 'demo')) === 1,
      'last_success 1',
    );
    await finishJob('demo-etcd-snapshot-2', 'Failed', new Date());
    await waitFor(
      async () => (await series('kafscale_operator_etcd_snapshot_last_success', 'demo')) === 0,
      'last_success 0',
    );
    expect((await access('demo'))?.message).toContain('the newest snapshot Job failed');

    // Backups turned off: the condition and the series go.
    const c = (await read<KafScaleCluster>(h.client, V, 'KafScaleCluster', 'demo'))!;
    await h.replace({
      ...c,
      spec: {
        ...c.spec,
        etcd: { managed: { ...c.spec.etcd.managed, backup: { enabled: false } } },
      },
    });
    await waitFor(async () => !(await access('demo')), 'condition removed');
    expect(await series('kafscale_operator_etcd_snapshot_access', 'demo')).toBeUndefined();
    expect(await series('kafscale_operator_etcd_snapshot_age_seconds', 'demo')).toBeUndefined();
    expect(await series('kafscale_operator_etcd_snapshot_last_success', 'demo')).toBeUndefined();
  });

  test('denied, missing credentials and an S3 that never answers: clear conditions in bounded time', async () => {
    // Accepts connections and never answers, like a firewall that drops packets.
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    try {
      await h.startOperator({ onSnapshot: metrics.snapshots, snapshotTimeoutMs: 1000 });
      await secret('wrong', 'nobody', 'nothing');
      await secret('right', s3.credentials.accessKeyId, s3.credentials.secretAccessKey);
      const started = Date.now();
      await h.client.create(
        backedUp('silent', {
          endpoint: `http://127.0.0.1:${port}`,
          credentialsSecretRef: { name: 'right' },
        }),
      );
      await h.client.create(
        backedUp('denied', { endpoint: s3.endpoint, credentialsSecretRef: { name: 'wrong' } }),
      );
      await h.client.create(
        backedUp('nosecret', { endpoint: s3.endpoint, credentialsSecretRef: { name: 'absent' } }),
      );
      await h.client.create(
        backedUp('nobucket', {
          endpoint: s3.endpoint,
          credentialsSecretRef: { name: 'right' },
          bucket: 'no-such-bucket',
        }),
      );

      const unreachable = await waitFor(
        async () => (await access('silent'))?.status === 'False' && access('silent'),
        'silent',
        10_000,
      );
      expect(unreachable.reason).toBe('BucketUnreachable');
      expect(unreachable.message).toContain('cannot list s3://backups/etcd/default/silent/');
      expect(Date.now() - started).toBeLessThan(8000);
      const denied = await waitFor(
        async () => (await access('denied'))?.status === 'False' && access('denied'),
        'denied',
      );
      expect(denied.reason).toBe('AccessDenied');
      const missing = await waitFor(
        async () => (await access('nosecret'))?.status === 'False' && access('nosecret'),
        'nosecret',
      );
      expect(missing).toMatchObject({ reason: 'CredentialsNotFound' });
      expect(missing.message).toContain('Secret absent');
      const nobucket = await waitFor(
        async () => (await access('nobucket'))?.status === 'False' && access('nobucket'),
        'nobucket',
      );
      expect(nobucket.reason).toBe('BucketNotFound');
      for (const name of ['silent', 'denied', 'nosecret', 'nobucket']) {
        expect(await series('kafscale_operator_etcd_snapshot_access', name)).toBe(0);
        // The rest of the status is written as usual.
        const c = await read<KafScaleCluster>(h.client, V, 'KafScaleCluster', name);
        expect(c?.status?.observedGeneration).toBe(c?.metadata.generation);
      }
      expect(h.errors).toEqual([]);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
});
