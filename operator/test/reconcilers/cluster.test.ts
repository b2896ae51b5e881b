import { X509Certificate } from 'node:crypto';
import { AppsV1Api, CoreV1Api, type V1Deployment, type V1Secret } from '@kubernetes/client-node';
import { brokerTlsDnsNames, CONFIG_HASH_ANNOTATION } from '../../src/builders/index.js';
import { clusterValidator } from '../../src/schema/index.js';
import { createCertificateAuthority, issueServerCertificate } from '../../src/tls/index.js';
import type { KafScaleCluster } from '../../src/api/v1alpha1.js';
import { cluster, waitFor, read, startHarness, type Harness } from './harness.js';

const V = 'kafscale.io/v1alpha1';

describe('KafScaleCluster reconciler against the API emulator', () => {
  let h: Harness;
  let apps: AppsV1Api;
  let core: CoreV1Api;

  beforeEach(async () => {
    h = await startHarness();
    apps = h.kc.makeApiClient(AppsV1Api);
    core = h.kc.makeApiClient(CoreV1Api);
  });
  afterEach(() => h.stop());

  const getCluster = () => read<KafScaleCluster>(h.client, V, 'KafScaleCluster', 'demo');
  const getDeployment = () =>
    apps.readNamespacedDeployment({ namespace: 'default', name: 'demo-broker' });
  const hash = (d: V1Deployment) => d.spec!.template.metadata!.annotations![CONFIG_HASH_ANNOTATION];
  const markReady = async (ready: number) => {
    const d = await getDeployment();
    await apps.replaceNamespacedDeploymentStatus({
      namespace: 'default',
      name: 'demo-broker',
      body: {
        ...d,
        status: {
          observedGeneration: d.metadata!.generation,
          replicas: d.spec!.replicas,
          updatedReplicas: d.spec!.replicas,
          readyReplicas: ready,
        },
      },
    });
  };

  it('creates the owned objects, reports status, follows spec changes and scaling', async () => {
    await h.startOperator();
    await h.client.create(cluster('demo'));
    const created = await waitFor(getDeployment, 'broker Deployment');
    const owner = (await getCluster())!;
    for (const [apiVersion, kind, name] of [
      ['v1', 'ServiceAccount', 'demo-broker'],
      ['v1', 'ConfigMap', 'demo-broker-config'],
      ['v1', 'Service', 'demo-brokers'],
      ['v1', 'Service', 'demo-bootstrap'],
      ['policy/v1', 'PodDisruptionBudget', 'demo-broker'],
    ]) {
      const o = await waitFor(() => read(h.client, apiVersion, kind, name), `${kind} ${name}`);
      expect(o.metadata?.ownerReferences?.[0]).toMatchObject({
        kind: 'KafScaleCluster',
        uid: owner.metadata.uid,
        controller: true,
      });
    }
    expect(created.spec?.replicas).toBe(3);
    const status = await waitFor(
      async () => (await getCluster())?.status?.selector && (await getCluster())!.status,
      'status',
    );
    expect(status).toMatchObject({
      observedGeneration: 1,
      phase: 'Provisioning',
      selector:
        'app.kubernetes.io/name=kafscale,app.kubernetes.io/instance=demo,app.kubernetes.io/component=broker',
    });

    // Brokers become ready: the Deployment's status change alone brings the cluster to Running.
    await markReady(3);
    const running = await waitFor(async () => {
      const c = await getCluster();
      return c?.status?.phase === 'Running' && c;
    }, 'Running');
    expect(running.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'True',
    });
    expect(running.status).toMatchObject({ replicas: 3, readyReplicas: 3 });
    const events = await core.listNamespacedEvent({ namespace: 'default' });
    expect(events.items.map((e) => e.reason)).toEqual(
      expect.arrayContaining(['Created', 'Running']),
    );

    // Watches ended by the server do not lose later changes.
    h.api.closeWatches();
    const hashBefore = hash(created);
    await h.ok(['scale', 'kafscalecluster', 'demo', '--replicas=5']);
    await waitFor(
      async () => (await getDeployment()).spec?.replicas === 5,
      'Deployment scaled to 5',
    );
    expect(hash(await getDeployment())).toBe(hashBefore);

    // A setting the broker reads at start changes the config hash, which rolls the pods.
    const c = (await getCluster())!;
    await h.replace({ ...c, spec: { ...c.spec, config: { logLevel: 'debug' } } });
    await waitFor(async () => hash(await getDeployment()) !== hashBefore, 'new config hash');
    const cm = await core.readNamespacedConfigMap({
      namespace: 'default',
      name: 'demo-broker-config',
    });
    expect(cm.data?.KAFSCALE_LOG_LEVEL).toBe('debug');
    await waitFor(
      async () => (await getCluster())?.status?.observedGeneration === 3,
      'observedGeneration',
    );

    // Fields the operator does not set survive its updates.
    const d = await getDeployment();
    await apps.replaceNamespacedDeployment({
      namespace: 'default',
      name: 'demo-broker',
      body: {
        ...d,
        metadata: {
          ...d.metadata,
          annotations: { ...d.metadata?.annotations, 'example.com/keep': 'me' },
        },
      },
    });
    await h.ok(['scale', 'kafscalecluster', 'demo', '--replicas=4']);
    await waitFor(async () => (await getDeployment()).spec?.replicas === 4, 'scaled to 4');
    expect((await getDeployment()).metadata?.annotations?.['example.com/keep']).toBe('me');
  });

  it('leaves replicas to the HPA while autoscaling, and removes the HPA when it is turned off', async () => {
    await h.startOperator({ resyncMs: 300 });
    await h.client.create(
      cluster('demo', { autoscaling: { enabled: true, minReplicas: 2, maxReplicas: 6 } }),
    );
    const hpa = await waitFor(
      () => read(h.client, 'autoscaling/v2', 'HorizontalPodAutoscaler', 'demo-broker'),
      'HPA',
    );
    expect(hpa.metadata?.ownerReferences?.[0]?.kind).toBe('KafScaleCluster');
    await waitFor(getDeployment, 'Deployment');
    // What the HPA controller would do.
    await h.ok(['scale', 'deployment', 'demo-broker', '--replicas=6']);
    const c = (await getCluster())!;
    await h.replace({ ...c, spec: { ...c.spec, config: { logLevel: 'warn' } } });
    await waitFor(async () => (await getCluster())?.status?.observedGeneration === 2, 'reconciled');
    await new Promise((r) => setTimeout(r, 700)); // a couple of resyncs
    expect((await getDeployment()).spec?.replicas).toBe(6);

    const c2 = (await getCluster())!;
    await h.replace({
      ...c2,
      spec: {
        ...c2.spec,
        autoscaling: { ...c2.spec.autoscaling, enabled: false },
        brokers: { ...c2.spec.brokers, replicas: 3 },
      },
    });
    await waitFor(
      async () => (await getDeployment()).spec?.replicas === 3,
      'replicas from the spec',
    );
    await waitFor(
      async () =>
        !(await read(h.client, 'autoscaling/v2', 'HorizontalPodAutoscaler', 'demo-broker')),
      'HPA removed',
    );
  });

  it('marks an invalid cluster and keeps reconciling the others; a paused one is left alone', async () => {
    // A CRD without its schema, as when the CRD is older than the operator: nothing stops bad specs.
    const crd = await h.client.read({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'kafscaleclusters.kafscale.io' },
    });
    const spec = (
      crd as unknown as { spec: { versions: { schema: { openAPIV3Schema: unknown } }[] } }
    ).spec;
    spec.versions[0].schema.openAPIV3Schema = {
      type: 'object',
      // The typed client model spells the extension this way and serialises it back.
      x_kubernetes_preserve_unknown_fields: true,
    };
    await h.replace(crd);
    await h.startOperator();
    await h.client.create({
      apiVersion: V,
      kind: 'KafScaleCluster',
      metadata: { name: 'broken', namespace: 'default' },
      spec: { s3: { region: 'eu-west-1' }, brokers: { replicas: -1 } },
    } as never);
    const paused = cluster('paused');
    paused.metadata!.annotations = { 'kafscale.io/paused': 'true' };
    await h.client.create(paused);
    await h.client.create(cluster('demo'));

    const broken = await waitFor(async () => {
      const c = await read<KafScaleCluster>(h.client, V, 'KafScaleCluster', 'broken');
      return c?.status?.phase === 'Invalid' && c;
    }, 'Invalid');
    const ready = broken.status?.conditions?.find((c) => c.type === 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(ready?.message).toMatch(/spec\.s3\.bucket/);
    expect(ready?.message).toMatch(/spec\.brokers\.replicas/);
    await waitFor(getDeployment, 'the valid cluster is reconciled');
    expect(await read(h.client, 'apps/v1', 'Deployment', 'broken-broker')).toBeUndefined();
    expect(await read(h.client, 'apps/v1', 'Deployment', 'paused-broker')).toBeUndefined();
    const events = await core.listNamespacedEvent({ namespace: 'default' });
    expect(
      events.items.some((e) => e.reason === 'InvalidSpec' && e.involvedObject.name === 'broken'),
    ).toBe(true);
  });

  it('generates a TLS certificate once and keeps it across reconciles', async () => {
    await h.startOperator({ resyncMs: 200 });
    await h.client.create(cluster('demo', { tls: { enabled: true } }));
    const first = await waitFor(
      () => core.readNamespacedSecret({ namespace: 'default', name: 'demo-tls' }),
      'TLS Secret',
    );
    await waitFor(
      () => core.readNamespacedSecret({ namespace: 'default', name: 'demo-tls-ca' }),
      'CA',
    );
    expect(first.data?.['tls.crt']).toBeTruthy();
    await new Promise((r) => setTimeout(r, 600));
    const later = await core.readNamespacedSecret({ namespace: 'default', name: 'demo-tls' });
    expect(later.data?.['tls.crt']).toBe(first.data?.['tls.crt']);
    const status = await waitFor(
      async () => (await getCluster())?.status,
      `status\n${h.errors.join('\n')}`,
    );
    expect(Date.parse(status.tlsNotAfter!)).toBeGreaterThan(Date.now() + 300 * 86_400_000);
  });

  it('removes what it stopped setting and keeps what others set (three-way merge)', async () => {
    await h.startOperator();
    await h.client.create(
      cluster('demo', {
        brokers: { replicas: 3, podAnnotations: { 'example.com/scrape': 'true' } },
        config: { logLevel: 'debug' },
      }),
    );
    const configMap = () =>
      core.readNamespacedConfigMap({ namespace: 'default', name: 'demo-broker-config' });
    await waitFor(async () => (await configMap()).data?.KAFSCALE_LOG_LEVEL === 'debug', 'config');
    const d = await waitFor(getDeployment, 'Deployment');
    expect(d.spec?.template.metadata?.annotations?.['example.com/scrape']).toBe('true');
    // Someone else's annotations and ConfigMap key, which the operator never set.
    await apps.replaceNamespacedDeployment({
      namespace: 'default',
      name: 'demo-broker',
      body: {
        ...d,
        metadata: { ...d.metadata, annotations: { ...d.metadata?.annotations, 'x/y': 'keep' } },
      },
    });
    const cm = await configMap();
    await core.replaceNamespacedConfigMap({
      namespace: 'default',
      name: 'demo-broker-config',
      body: { ...cm, data: { ...cm.data, EXTRA: 'keep' } },
    });

    const c = (await getCluster())!;
    await h.replace({
      ...c,
      spec: {
        ...c.spec,
        brokers: { ...c.spec.brokers, podAnnotations: undefined },
        config: {},
        autoscaling: { enabled: true, minReplicas: 2, maxReplicas: 6 },
      },
    });
    await waitFor(async () => !(await configMap()).data?.KAFSCALE_LOG_LEVEL, 'logLevel removed');
    const after = await waitFor(async () => {
      const d = await getDeployment();
      return !d.spec?.template.metadata?.annotations?.['example.com/scrape'] && d;
    }, 'pod annotation removed');
    expect(after.metadata?.annotations?.['x/y']).toBe('keep');
    expect((await configMap()).data?.EXTRA).toBe('keep');
    // Autoscaling took replicas over: the last count stays for the HPA, not a default of one.
    expect(after.spec?.replicas).toBe(3);
  });

  it('renews an ageing CA with the same key, keeps the server certificate and the pods', async () => {
    const readSecret = (name: string) => core.readNamespacedSecret({ namespace: 'default', name });
    const pem = (s: V1Secret, key: string) => Buffer.from(s.data![key], 'base64').toString();
    // Seven years on: a ten-year CA past two thirds of its life, and a server certificate it
    // issued yesterday for the cluster's names, left in the Secrets by an earlier operator.
    const day = 86_400_000;
    const old = createCertificateAuthority('default/demo CA', new Date(Date.now() - 7 * 365 * day));
    const spec = clusterValidator().validate(cluster('demo', { tls: { enabled: true } })).object;
    const names = brokerTlsDnsNames(spec as unknown as KafScaleCluster, {
      brokerImage: 'x',
      clusterDomain: 'cluster.local',
    });
    const leaf = issueServerCertificate(
      old,
      { commonName: 'demo-bootstrap', dnsNames: names },
      new Date(Date.now() - day),
    );
    const b64 = (t: string) => Buffer.from(t).toString('base64');
    await core.createNamespacedSecret({
      namespace: 'default',
      body: {
        metadata: { name: 'demo-tls-ca' },
        data: { 'ca.crt': b64(old.certPem), 'ca.key': b64(old.keyPem) },
      },
    });
    await core.createNamespacedSecret({
      namespace: 'default',
      body: {
        metadata: { name: 'demo-tls' },
        type: 'kubernetes.io/tls',
        data: {
          'tls.crt': b64(leaf.certPem),
          'tls.key': b64(leaf.keyPem),
          'ca.crt': b64(old.certPem),
        },
      },
    });
    await h.startOperator({ resyncMs: 200 });
    await h.client.create(cluster('demo', { tls: { enabled: true } }));

    const renewed = await waitFor(async () => {
      const s = await readSecret('demo-tls');
      return pem(s, 'ca.crt') !== old.certPem && pem(s, 'tls.crt') === leaf.certPem && s;
    }, 'renewed CA in ca.crt');
    const ca = new X509Certificate(pem(renewed, 'ca.crt'));
    expect(ca.publicKey.equals(new X509Certificate(old.certPem).publicKey)).toBe(true);
    expect(Date.parse(ca.validTo)).toBeGreaterThan(Date.now() + 9 * 365 * day);
    expect(new X509Certificate(leaf.certPem).verify(ca.publicKey)).toBe(true);
    expect(pem(await readSecret('demo-tls-ca'), 'ca.crt')).toBe(pem(renewed, 'ca.crt'));
    // Resyncs after the renewal change nothing: the pods were never rolled.
    await new Promise((r) => setTimeout(r, 600));
    expect((await getDeployment()).metadata?.generation).toBe(1);
    expect(pem(await readSecret('demo-tls'), 'ca.crt')).toBe(pem(renewed, 'ca.crt'));
    const events = await core.listNamespacedEvent({ namespace: 'default' });
    expect(events.items.some((e) => e.reason === 'CACertificateRenewed')).toBe(true);
  });
});
