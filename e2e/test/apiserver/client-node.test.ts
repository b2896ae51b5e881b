// The real @kubernetes/client-node 1.x (what the operator uses) against the emulator: typed
// CRUD with Status errors, each patch content type, and informers through watch timeouts and
// 410 Expired relists.
import {
  ApiException,
  ApiextensionsV1Api,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  makeInformer,
  setHeaderOptions,
  type KubernetesObject,
  type V1ConfigMap,
} from '@kubernetes/client-node';
import { parse } from 'yaml';
import { ApiServer } from '../../src/apiserver/index.js';
import { eventually, WIDGET_CRD } from '../support/emulated-cluster.js';

let api: ApiServer;
let kc: KubeConfig;
let core: CoreV1Api;

beforeAll(async () => {
  // Watches end after a second, as a real server ends them after --min-request-timeout.
  api = await ApiServer.start({ watchTimeoutSeconds: 1, historyLimit: 30 });
  kc = new KubeConfig();
  kc.loadFromFile(api.writeKubeconfig());
  core = kc.makeApiClient(CoreV1Api);
});
afterAll(async () => {
  await api.stop();
});

const statusOf = async (
  p: Promise<unknown>,
): Promise<{ code: number; reason: string; message: string }> => {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ApiException);
    const err = e as ApiException<string>;
    const body = JSON.parse(err.body) as { reason: string; message: string; kind: string };
    expect(body.kind).toBe('Status');
    return { code: err.code, reason: body.reason, message: body.message };
  }
  throw new Error('expected the call to fail');
};

const cm = (name: string, data: Record<string, string> = {}): V1ConfigMap => ({
  metadata: { name, labels: { app: 'informer' } },
  data,
});

describe('client-node typed CRUD', () => {
  it('creates, reads, updates with conflicts, patches and deletes ConfigMaps', async () => {
    const created = await core.createNamespacedConfigMap({
      namespace: 'default',
      body: cm('crud', { a: '1' }),
    });
    expect(created.metadata?.uid).toBeTruthy();
    expect(created.metadata?.creationTimestamp).toBeInstanceOf(Date);
    const rv = created.metadata!.resourceVersion!;

    expect(
      await statusOf(core.createNamespacedConfigMap({ namespace: 'default', body: cm('crud') })),
    ).toMatchObject({
      code: 409,
      reason: 'AlreadyExists',
      message: 'configmaps "crud" already exists',
    });
    expect(
      await statusOf(core.readNamespacedConfigMap({ namespace: 'default', name: 'nope' })),
    ).toMatchObject({
      code: 404,
      reason: 'NotFound',
    });

    const replaced = await core.replaceNamespacedConfigMap({
      namespace: 'default',
      name: 'crud',
      body: { ...created, data: { a: '2' } },
    });
    expect(replaced.metadata?.resourceVersion).not.toBe(rv);
    const stale = await statusOf(
      core.replaceNamespacedConfigMap({
        namespace: 'default',
        name: 'crud',
        body: { ...created, data: { a: '3' } },
      }),
    );
    expect(stale).toMatchObject({ code: 409, reason: 'Conflict' });
    expect(stale.message).toContain('the object has been modified');

    // client-node's default patch content type is JSON patch.
    await core.patchNamespacedConfigMap({
      namespace: 'default',
      name: 'crud',
      body: [{ op: 'add', path: '/data/j', value: 'json' }],
    });
    await core.patchNamespacedConfigMap(
      { namespace: 'default', name: 'crud', body: { data: { m: 'merge', a: null } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await core.patchNamespacedConfigMap(
      { namespace: 'default', name: 'crud', body: { metadata: { labels: { s: 'smp' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    const patched = await core.readNamespacedConfigMap({ namespace: 'default', name: 'crud' });
    expect(patched.data).toEqual({ j: 'json', m: 'merge' });
    expect(patched.metadata?.labels).toEqual({ app: 'informer', s: 'smp' });

    await core.deleteNamespacedConfigMap({ namespace: 'default', name: 'crud' });
    expect(
      (await statusOf(core.readNamespacedConfigMap({ namespace: 'default', name: 'crud' }))).code,
    ).toBe(404);
  });

  it('bumps generation on spec changes only and scales a Deployment', async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    const d = await apps.createNamespacedDeployment({
      namespace: 'default',
      body: {
        metadata: { name: 'gen' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'gen' } },
          template: {
            metadata: { labels: { app: 'gen' } },
            spec: { containers: [{ name: 'c', image: 'x' }] },
          },
        },
      },
    });
    expect(d.metadata?.generation).toBe(1);
    const labelled = await apps.patchNamespacedDeployment(
      { namespace: 'default', name: 'gen', body: { metadata: { labels: { x: 'y' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(labelled.metadata?.generation).toBe(1);
    await apps.patchNamespacedDeploymentStatus(
      { namespace: 'default', name: 'gen', body: { status: { replicas: 1, readyReplicas: 1 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const scaled = await apps.replaceNamespacedDeploymentScale({
      namespace: 'default',
      name: 'gen',
      body: { metadata: { name: 'gen' }, spec: { replicas: 4 } },
    });
    expect(scaled.spec?.replicas).toBe(4);
    expect(scaled.status?.selector).toBe('app=gen');
    const after = await apps.readNamespacedDeployment({ namespace: 'default', name: 'gen' });
    expect(after.metadata?.generation).toBe(2);
    expect(after.status?.readyReplicas).toBe(1);
  });

  it('serves custom objects: CRUD, conflicts, patch types, scale and server-side apply', async () => {
    // Posted raw: client-node's typed serializer expects `_default`/`xKubernetesValidations`
    // properties and would drop the schema's `default` and CEL rules from a parsed manifest.
    const res = await fetch(`${api.url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(parse(WIDGET_CRD)),
    });
    expect(res.status).toBe(201);
    const ext = kc.makeApiClient(ApiextensionsV1Api);
    const crd = await ext.readCustomResourceDefinition({ name: 'widgets.example.kafscale.io' });
    const conditions = crd.status?.conditions?.map((c) => `${c.type}=${c.status}`);
    expect(conditions).toEqual(['NamesAccepted=True', 'Established=True']);

    const co = kc.makeApiClient(CustomObjectsApi);
    const where = {
      group: 'example.kafscale.io',
      version: 'v1alpha1',
      namespace: 'default',
      plural: 'widgets',
    };
    const created = (await co.createNamespacedCustomObject({
      ...where,
      body: {
        apiVersion: 'example.kafscale.io/v1alpha1',
        kind: 'Widget',
        metadata: { name: 'w' },
        spec: { size: 'small' },
      },
    })) as KubernetesObject & { spec: Record<string, unknown> };
    expect(created.spec).toEqual({ size: 'small', replicas: 1, storageClass: 'standard' });

    const invalid = await statusOf(
      co.createNamespacedCustomObject({
        ...where,
        body: {
          apiVersion: 'example.kafscale.io/v1alpha1',
          kind: 'Widget',
          metadata: { name: 'x' },
          spec: { size: 'tiny' },
        },
      }),
    );
    expect(invalid).toMatchObject({ code: 422, reason: 'Invalid' });
    expect(invalid.message).toBe(
      'Widget.example.kafscale.io "x" is invalid: spec.size: Unsupported value: "tiny": supported values: "small", "large"',
    );

    await co.replaceNamespacedCustomObject({
      ...where,
      name: 'w',
      body: { ...created, spec: { ...created.spec, replicas: 2 } },
    });
    expect(
      await statusOf(
        co.replaceNamespacedCustomObject({
          ...where,
          name: 'w',
          body: { ...created, spec: { ...created.spec, replicas: 3 } },
        }),
      ),
    ).toMatchObject({ code: 409, reason: 'Conflict' });

    await co.patchNamespacedCustomObject({
      ...where,
      name: 'w',
      body: [{ op: 'replace', path: '/spec/replicas', value: 3 }],
    });
    await co.patchNamespacedCustomObject(
      { ...where, name: 'w', body: { spec: { size: 'large' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(
      await statusOf(
        co.patchNamespacedCustomObject(
          { ...where, name: 'w', body: { spec: { size: 'small' } } },
          setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
        ),
      ),
    ).toMatchObject({ code: 415, reason: 'UnsupportedMediaType' });

    await co.patchNamespacedCustomObjectStatus(
      { ...where, name: 'w', body: { status: { replicas: 3, selector: 'app=w' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const scale = (await co.getNamespacedCustomObjectScale({ ...where, name: 'w' })) as {
      spec: { replicas: number };
      status: { replicas: number; selector: string };
    };
    expect(scale).toMatchObject({
      spec: { replicas: 3 },
      status: { replicas: 3, selector: 'app=w' },
    });
    await co.patchNamespacedCustomObjectScale(
      { ...where, name: 'w', body: { spec: { replicas: 5 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );

    // The operator's style: server-side apply through KubernetesObjectApi.
    const objects = KubernetesObjectApi.makeApiClient(kc);
    const applied = (await objects.patch(
      {
        apiVersion: 'example.kafscale.io/v1alpha1',
        kind: 'Widget',
        metadata: { name: 'w', namespace: 'default' },
        spec: { size: 'large', replicas: 4 },
      } as KubernetesObject,
      undefined,
      undefined,
      'kafscale-operator',
      true,
      PatchStrategy.ServerSideApply,
    )) as KubernetesObject & { spec: { replicas: number } };
    expect(applied.spec.replicas).toBe(4);
    expect(
      applied.metadata?.managedFields?.some(
        (m) => m.manager === 'kafscale-operator' && m.operation === 'Apply',
      ),
    ).toBe(true);
  });
});

describe('client-node informers', () => {
  it('list+watch delivers ADDED/MODIFIED/DELETED and survives server-ended watches', async () => {
    const path = '/api/v1/namespaces/default/configmaps';
    const informer = makeInformer(
      kc,
      path,
      () => core.listNamespacedConfigMap({ namespace: 'default', labelSelector: 'app=informer' }),
      'app=informer',
    );
    const seen: string[] = [];
    const errors: unknown[] = [];
    informer.on('add', (o) => seen.push(`add ${o.metadata?.name}`));
    informer.on('update', (o) => seen.push(`update ${o.metadata?.name} ${o.data?.v}`));
    informer.on('delete', (o) => seen.push(`delete ${o.metadata?.name}`));
    informer.on('error', (e) => errors.push(e));
    await core.createNamespacedConfigMap({ namespace: 'default', body: cm('before') });
    await informer.start();
    await eventually(() => seen.includes('add before'), 'the listed object');

    await core.createNamespacedConfigMap({ namespace: 'default', body: cm('live', { v: '1' }) });
    await core.createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { name: 'unlabelled' } },
    });
    await core.patchNamespacedConfigMap(
      { namespace: 'default', name: 'live', body: { data: { v: '2' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await core.deleteNamespacedConfigMap({ namespace: 'default', name: 'live' });
    await eventually(() => seen.includes('delete live'), 'the DELETED event');
    expect(seen).toEqual(['add before', 'add live', 'update live 2', 'delete live']);

    // The server ends each watch after a second; the informer resumes from its resourceVersion.
    const watchesBefore = api.requests.filter((r) => r.url.includes('watch=true')).length;
    await new Promise((r) => setTimeout(r, 2500));
    expect(api.requests.filter((r) => r.url.includes('watch=true')).length).toBeGreaterThan(
      watchesBefore,
    );
    await core.createNamespacedConfigMap({ namespace: 'default', body: cm('after-timeout') });
    await eventually(() => seen.includes('add after-timeout'), 'an event after reconnecting');
    expect(errors).toEqual([]);
    await informer.stop();
  });

  it('relists after 410 Expired, both on reconnect with a compacted version and mid-stream', async () => {
    const path = '/api/v1/namespaces/default/configmaps';
    const informer = makeInformer(
      kc,
      path,
      () => core.listNamespacedConfigMap({ namespace: 'default', labelSelector: 'app=relist' }),
      'app=relist',
    );
    const seen: string[] = [];
    informer.on('add', (o) => seen.push(`add ${o.metadata?.name}`));
    informer.on('delete', (o) => seen.push(`delete ${o.metadata?.name}`));
    const body = (name: string): V1ConfigMap => ({ metadata: { name, labels: { app: 'relist' } } });
    await core.createNamespacedConfigMap({ namespace: 'default', body: body('r1') });
    await informer.start();
    await eventually(() => seen.includes('add r1'), 'the first list');

    // While the informer is stopped, more writes than the history keeps: its version expires.
    await informer.stop();
    await core.deleteNamespacedConfigMap({ namespace: 'default', name: 'r1' });
    for (let i = 0; i < 40; i++) {
      await core.createNamespacedConfigMap({
        namespace: 'default',
        body: { metadata: { name: `filler-${i}` } },
      });
    }
    await core.createNamespacedConfigMap({ namespace: 'default', body: body('r2') });
    const lists = () =>
      api.requests.filter((r) => r.url.startsWith(path) && !r.url.includes('watch=')).length;
    const listsBefore = lists();
    await informer.start();
    await eventually(() => seen.includes('delete r1') && seen.includes('add r2'), 'the relist');
    expect(lists()).toBeGreaterThan(listsBefore);

    // A 410 sent on an open watch (a watcher too far behind) also makes it relist.
    await eventually(() => api.activeWatchCount() > 0, 'an open watch');
    const listsMid = lists();
    api.expireWatches();
    await eventually(() => lists() > listsMid, 'the relist after a mid-stream 410');
    await core.createNamespacedConfigMap({ namespace: 'default', body: body('r3') });
    await eventually(() => seen.includes('add r3'), 'events after the relist');
    await informer.stop();
  });
});
