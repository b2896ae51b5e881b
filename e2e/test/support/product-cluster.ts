// The whole product on the emulated Kubernetes: the API emulator, the pod runner, real etcd and
// s3rver, the chart installed with the real helm and kubectl, so the operator runs as its own pod.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { EtcdServer } from '../../../broker/test/support/etcd.js';
import { startS3rver, type S3rver } from '../../../broker/test/support/s3rver.js';
import { REPO_ROOT } from '../../src/runner/images.js';
import { PodRunner } from '../../src/runner/index.js';
import { toolPath } from '../../src/tools/kubectl.js';
import { execFileSync } from 'node:child_process';
import { eventually, startCluster, type EmulatedCluster } from './emulated-cluster.js';

export interface ProductCluster extends EmulatedCluster {
  runner: PodRunner;
  etcd: EtcdServer;
  s3: S3rver;
  domain: string;
  /** Applies a KafScaleCluster built from a sample, pointed at this run's etcd and s3rver. */
  applyCluster(name: string, spec?: Record<string, unknown>): Promise<void>;
  /** The bootstrap Service's DNS name and port. */
  bootstrap(cluster: string): string;
  waitReady(cluster: string, timeoutMs?: number): Promise<void>;
  /** kubectl get -o json of one object. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- kubectl JSON of any kind
  getJson(kind: string, name: string): Promise<any>;
}

export async function startProduct(): Promise<ProductCluster> {
  const domain = `r${Math.floor(Math.random() * 1e6)}.kafscale.test`;
  const [cluster, etcd, s3] = await Promise.all([
    startCluster(),
    EtcdServer.start(),
    startS3rver(),
  ]);
  const runner = PodRunner.start({
    server: cluster.api.url,
    kubeconfig: cluster.kubeconfig,
    clusterDomain: domain,
  });
  const chart = execFileSync(
    toolPath('helm'),
    [
      'template',
      'kafscale',
      join(REPO_ROOT, 'charts/kafscale'),
      '--namespace',
      'default',
      '--set',
      `clusterDomain=${domain}`,
      '--set',
      'logLevel=debug',
    ],
    { encoding: 'utf8' },
  );
  await cluster.ok(['apply', '-f', '-'], chart);
  await cluster
    .ok([
      'create',
      'secret',
      'generic',
      'kafscale-s3',
      '--dry-run=client',
      '-o',
      'yaml',
      `--from-literal=AWS_ACCESS_KEY_ID=${s3.credentials.accessKeyId}`,
      `--from-literal=AWS_SECRET_ACCESS_KEY=${s3.credentials.secretAccessKey}`,
    ])
    .then((yaml) => cluster.ok(['apply', '-f', '-'], yaml));
  await eventually(
    () => runner.pods('default').some((p) => p.name.startsWith('kafscale-') && p.ready),
    `operator pod ready\n${runner.logs()}`,
    90_000,
  );
  const product: ProductCluster = {
    ...cluster,
    runner,
    etcd,
    s3,
    domain,
    async applyCluster(name, spec = {}) {
      const sample = parse(
        readFileSync(
          join(REPO_ROOT, 'config/samples/kafscale_v1alpha1_kafscalecluster_minimal.yaml'),
          'utf8',
        ),
      );
      sample.metadata.name = name;
      sample.spec = {
        ...sample.spec,
        brokers: { replicas: 1, ...(spec.brokers as object) },
        s3: {
          ...sample.spec.s3,
          bucket: s3.bucket,
          region: s3.region,
          endpoint: s3.endpoint,
          pathStyle: true,
        },
        etcd: { endpoints: [etcd.endpoint] },
        config: { leaseTtlSeconds: 3, flushIntervalMs: 5, ...(spec.config as object) },
        ...Object.fromEntries(
          Object.entries(spec).filter(([k]) => !['brokers', 'config'].includes(k)),
        ),
      };
      await cluster.ok(['apply', '-f', '-'], stringify(sample));
    },
    bootstrap: (name) => `${name}-bootstrap.default.svc.${domain}:9092`,
    async waitReady(name, timeoutMs = 90_000) {
      try {
        await eventually(
          async () => {
            const out = await cluster.ok(['get', 'kafscaleclusters', name, '--no-headers']);
            return /\bTrue\b/.test(out) ? out : undefined;
          },
          `cluster ${name} Ready`,
          timeoutMs,
        );
      } catch (e) {
        // What a person would look at: the cluster's conditions, the events, the pods' output.
        const status = await cluster.k(['get', 'kafscalecluster', name, '-o', 'yaml']);
        const events = await cluster.k(['get', 'events']);
        throw new Error(
          `${(e as Error).message}\n${status.stdout}\n${events.stdout}\n${runner.logs()}`,
        );
      }
    },
    async getJson(kind, name) {
      return JSON.parse(await cluster.ok(['get', kind, name, '-o', 'json']));
    },
    async stop() {
      await runner.stop(2);
      await Promise.all([cluster.stop(), etcd.destroy(), s3.stop()]);
    },
  };
  return product;
}
