import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { ClusterMetadata } from '../../../broker/src/metadata/cluster-metadata.js';
import { EtcdMetadataStore } from '../../../broker/src/metadata/etcd-metadata-store.js';
import { EtcdServer } from '../../../broker/test/support/etcd.js';
import type { KafScaleTopic } from '../../src/api/v1alpha1.js';
import { TOPIC_FINALIZER } from '../../src/reconcilers/topic.js';
import { cluster, read, startHarness, waitFor, type Harness } from './harness.js';

describe('KafScaleTopic reconciler', () => {
  let etcd: EtcdServer;
  let h: Harness;
  let store: EtcdMetadataStore;
  let md: ClusterMetadata;

  beforeAll(async () => {
    etcd = await EtcdServer.start();
  });
  afterAll(async () => {
    await etcd.destroy();
  });
  beforeEach(async () => {
    if (!(await etcdHealthy())) await etcd.restart();
    h = await startHarness();
    store = new EtcdMetadataStore({ endpoints: [etcd.endpoint] });
    // The builders' cluster name: namespace.name.
    md = await ClusterMetadata.open(store, 'default.c1');
  });
  afterEach(async () => {
    await md.close();
    await store.close();
    await h.stop();
  });

  async function etcdHealthy(): Promise<boolean> {
    try {
      await fetch(`${etcd.endpoint}/health`);
      return true;
    } catch {
      return false;
    }
  }

  async function metadataOf(name: string): Promise<ClusterMetadata> {
    await md.close();
    md = await ClusterMetadata.open(store, `default.${name}`);
    return md;
  }

  async function apply(o: unknown): Promise<void> {
    const file = join(dirname(h.kubeconfig), `${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(o));
    await h.ok(['apply', '-f', file]);
  }

  function topic(name: string, spec: Record<string, unknown>): KubernetesObject {
    return {
      apiVersion: 'kafscale.io/v1alpha1',
      kind: 'KafScaleTopic',
      metadata: { name, namespace: 'default' },
      spec: { clusterRef: { name: 'c1' }, ...spec },
    } as KubernetesObject;
  }

  const readTopic = (name: string) =>
    read<KafScaleTopic>(h.client, 'kafscale.io/v1alpha1', 'KafScaleTopic', name);
  const ready = (t: KafScaleTopic | undefined) =>
    t?.status?.conditions?.find((c) => c.type === 'Ready');

  async function etcdTopic(
    name: string,
    pred: (t: ReturnType<ClusterMetadata['topic']>) => boolean,
  ) {
    return waitFor(
      async () => {
        const m = await metadataOf('c1');
        const t = m.topic(name);
        return pred(t) && (t ?? true);
      },
      `etcd topic ${name}`,
      15_000,
    );
  }

  test('creates, grows, refuses to shrink, updates configs, deletes through the finalizer', async () => {
    await h.startOperator();
    await apply(cluster('c1', { etcd: { endpoints: [etcd.endpoint] } }));
    await apply(
      topic('orders', {
        partitions: 3,
        retentionMs: 60000,
        config: { 'cleanup.policy': 'delete' },
      }),
    );

    const created = await etcdTopic('orders', (t) => t?.partitions === 3);
    expect(created).toMatchObject({
      configs: { 'retention.ms': '60000', 'cleanup.policy': 'delete' },
    });
    const t1 = await waitFor(
      async () => {
        const t = await readTopic('orders');
        return ready(t)?.status === 'True' && t;
      },
      'Ready=True',
      15_000,
    );
    expect(t1.metadata.finalizers).toContain(TOPIC_FINALIZER);
    expect(t1.status).toMatchObject({
      partitions: 3,
      topicName: 'orders',
      observedGeneration: t1.metadata.generation,
    });
    expect(t1.status?.partitionStatus).toHaveLength(3);
    expect(t1.status?.partitionStatus?.[0]).toMatchObject({ partition: 0, leader: -1 });

    // A broker taking leadership of partition 1 shows in status.
    const lease = await store.grantLease(30);
    const m = await metadataOf('c1');
    expect((await m.acquire(m.leaderKey('orders', 1), 7, lease.id)).acquired).toBe(true);
    await h.ok(['annotate', 'kafscaletopic', 'orders', 'leader=1']);
    await waitFor(
      async () => (await readTopic('orders'))?.status?.partitionStatus?.[1]?.leader === 7,
      'leader 7 in status',
      15_000,
    );
    await lease.revoke();

    // Grow.
    await apply(
      topic('orders', {
        partitions: 5,
        retentionMs: 60000,
        config: { 'cleanup.policy': 'delete' },
      }),
    );
    await etcdTopic('orders', (t) => t?.partitions === 5);
    await waitFor(
      async () => (await readTopic('orders'))?.status?.partitions === 5,
      'status 5',
      15_000,
    );

    // Config update.
    await apply(
      topic('orders', {
        partitions: 5,
        retentionMs: 120000,
        config: { 'cleanup.policy': 'compact' },
      }),
    );
    await etcdTopic(
      'orders',
      (t) => t?.configs['retention.ms'] === '120000' && t.configs['cleanup.policy'] === 'compact',
    );

    // Shrink: the CRD's CEL rule refuses it at the API, so simulate a resource that slipped
    // through: grow the topic in etcd behind the operator's back.
    await (await metadataOf('c1')).createPartitions('orders', 8);
    // Any event on the resource (here an annotation) makes the operator look again.
    await h.ok(['annotate', 'kafscaletopic', 'orders', 'touched=1']);
    const refused = await waitFor(
      async () => {
        const t = await readTopic('orders');
        return ready(t)?.reason === 'PartitionsCannotShrink' && t;
      },
      'PartitionsCannotShrink',
      15_000,
    );
    expect(ready(refused)?.status).toBe('False');
    expect((await metadataOf('c1')).topic('orders')?.partitions).toBe(8);

    // Delete: the finalizer deletes the topic from etcd, then the resource goes.
    await h.ok(['delete', 'kafscaletopic', 'orders', '--wait=false']);
    await waitFor(async () => !(await readTopic('orders')), 'resource gone', 15_000);
    expect((await metadataOf('c1')).topic('orders')).toBeUndefined();
    expect(h.errors.filter((e) => !/etcd|ECONNREFUSED|Unavailable/i.test(e))).toEqual([]);
  });

  test('a topic whose cluster is gone is deleted anyway, with a Warning Event', async () => {
    await h.startOperator();
    await apply(cluster('c1', { etcd: { endpoints: [etcd.endpoint] } }));
    await apply(topic('logs', { partitions: 1 }));
    await etcdTopic('logs', (t) => t?.partitions === 1);
    await waitFor(
      async () => (await readTopic('logs'))?.metadata.finalizers?.length,
      'finalizer',
      15_000,
    );

    await h.ok(['delete', 'kafscalecluster', 'c1', '--wait=false']);
    await waitFor(
      async () => !(await read(h.client, 'kafscale.io/v1alpha1', 'KafScaleCluster', 'c1')),
      'cluster gone',
      15_000,
    );
    await h.ok(['delete', 'kafscaletopic', 'logs', '--wait=false']);
    await waitFor(async () => !(await readTopic('logs')), 'topic resource gone', 15_000);
    const events = await h.ok(['get', 'events', '-o', 'json']);
    expect(events).toContain('ClusterGone');
    // The topic stays in etcd: nobody could be asked to delete it.
    expect((await metadataOf('c1')).topic('logs')).toBeDefined();
  });

  test('etcd unreachable past the grace period: the finalizer goes with a Warning Event', async () => {
    await h.startOperator({ topicEtcdGraceMs: 1000 });
    await apply(cluster('c1', { etcd: { endpoints: [etcd.endpoint] } }));
    await apply(topic('metrics', { partitions: 1 }));
    await etcdTopic('metrics', (t) => t?.partitions === 1);
    await waitFor(
      async () => (await readTopic('metrics'))?.metadata.finalizers?.length,
      'finalizer',
    );

    await md.close();
    await etcd.stop();
    await h.ok(['delete', 'kafscaletopic', 'metrics', '--wait=false']);
    await waitFor(async () => !(await readTopic('metrics')), 'topic resource gone', 30_000);
    expect(await h.ok(['get', 'events', '-o', 'json'])).toContain('EtcdUnreachable');
    await etcd.restart();
    md = await ClusterMetadata.open(store, 'default.c1');
  });

  test('one etcd connection per cluster, replaced when its endpoints change, closed when it goes', async () => {
    const metric = async (pattern: RegExp) => {
      const text = await (await fetch(`${etcd.endpoint}/metrics`)).text();
      return [...text.matchAll(pattern)].reduce((sum, m) => sum + Number(m[1]), 0);
    };
    // Every ClusterMetadata holds one watch; every new client opens a new watch stream.
    const watchers = () => metric(/^etcd_debugging_mvcc_watcher_total (\d+)$/gm);
    const streams = () =>
      metric(
        /^grpc_server_started_total\{[^}]*grpc_method="Watch",grpc_service="etcdserverpb.Watch"[^}]*\} (\d+)$/gm,
      );
    const base = await watchers();
    const partitionsOf = async (name: string, n: number) =>
      waitFor(
        async () => (await readTopic(name))?.status?.partitions === n,
        `${name} ${n}`,
        15_000,
      );

    const manager = await h.startOperator();
    await apply(cluster('c1', { etcd: { endpoints: [etcd.endpoint] } }));
    await apply(topic('a', { partitions: 1 }));
    await apply(topic('b', { partitions: 1 }));
    await partitionsOf('a', 1);
    await partitionsOf('b', 1);
    expect(await watchers()).toBe(base + 1);
    const opened = await streams();
    for (const n of [2, 3]) {
      await apply(topic('a', { partitions: n }));
      await apply(topic('b', { partitions: n }));
      await partitionsOf('a', n);
      await partitionsOf('b', n);
    }
    expect(await streams()).toBe(opened);
    expect(await watchers()).toBe(base + 1);

    // Other endpoints (the same server listed twice): a new connection, the old one closed.
    await apply(cluster('c1', { etcd: { endpoints: [etcd.endpoint, etcd.endpoint] } }));
    await apply(topic('a', { partitions: 4 }));
    await partitionsOf('a', 4);
    expect(await streams()).toBe(opened + 1);
    await waitFor(async () => (await watchers()) === base + 1, 'one watcher', 5000);

    await h.ok(['delete', 'kafscalecluster', 'c1', '--wait=false']);
    await waitFor(async () => (await watchers()) === base, 'connection closed with the cluster');

    await apply(cluster('c1', { etcd: { endpoints: [etcd.endpoint] } }));
    await apply(topic('a', { partitions: 5 }));
    await partitionsOf('a', 5);
    expect(await watchers()).toBe(base + 1);
    await manager.stop();
    expect(await watchers()).toBe(base);
  });

  test('a spec the schema rejects gets Ready=False InvalidSpec and is not written to etcd', async () => {
    // The API server enforces the CRD too: a resource created while an older CRD without the
    // minimum was installed is simulated by dropping the minimum for this one test.
    await h.startOperator();
    await apply(cluster('c1', { etcd: { endpoints: [etcd.endpoint] } }));
    type Schema = { properties: Record<string, Schema>; minimum?: number };
    const crd = (await h.client.read({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'kafscaletopics.kafscale.io' },
    })) as KubernetesObject & { spec: { versions: { schema: { openAPIV3Schema: Schema } }[] } };
    delete crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.partitions
      .minimum;
    await h.client.replace(crd);
    await h.client.create(topic('bad', { partitions: 0 }));

    const t = await waitFor(
      async () => {
        const r = await readTopic('bad');
        return ready(r)?.reason === 'InvalidSpec' && r;
      },
      'InvalidSpec',
      15_000,
    );
    expect(ready(t)).toMatchObject({ status: 'False' });
    expect(ready(t)?.message).toContain('spec.partitions');
    expect(t.status?.phase).toBe('Invalid');
    expect((await metadataOf('c1')).topic('bad')).toBeUndefined();
  });
});
