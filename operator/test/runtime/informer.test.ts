import { CoreV1Api, type KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import type { ApiServer } from '../../../e2e/src/apiserver/index.js';
import { Informer } from '../../src/runtime/informer.js';
import { eventually, startApi } from './support.js';

describe('Informer against the API emulator', () => {
  let api: ApiServer;
  let kc: KubeConfig;
  let core: CoreV1Api;
  const informers: Informer<V1ConfigMap>[] = [];

  beforeEach(async () => {
    ({ api, kc } = await startApi({ historyLimit: 50 }));
    core = kc.makeApiClient(CoreV1Api);
  });
  afterEach(async () => {
    await Promise.all(informers.splice(0).map((i) => i.stop()));
    await api.stop();
  });

  const configMaps = (extra: Partial<ConstructorParameters<typeof Informer>[0]> = {}) => {
    const informer = new Informer<V1ConfigMap>({
      name: 'configmaps',
      kubeConfig: kc,
      path: '/api/v1/namespaces/default/configmaps',
      list: async () => {
        const l = await core.listNamespacedConfigMap({ namespace: 'default' });
        return { items: l.items, resourceVersion: l.metadata!.resourceVersion! };
      },
      backoffInitialMs: 20,
      backoffMaxMs: 200,
      ...extra,
    });
    informers.push(informer);
    return informer;
  };
  const create = (name: string, v = '1') =>
    core.createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { name }, data: { v } },
    });

  it('lists, then follows adds, updates and deletes', async () => {
    await create('a');
    const informer = configMaps();
    const events: string[] = [];
    informer.on((e, o) => events.push(`${e}:${o.metadata!.name}`));
    informer.start();
    await informer.waitForSync();
    expect(informer.get('default/a')?.data).toEqual({ v: '1' });
    await create('b');
    await core.replaceNamespacedConfigMap({
      namespace: 'default',
      name: 'a',
      body: {
        ...(await core.readNamespacedConfigMap({ namespace: 'default', name: 'a' })),
        data: { v: '2' },
      },
    });
    await core.deleteNamespacedConfigMap({ namespace: 'default', name: 'b' });
    await eventually(() => events.includes('delete:b'), 'delete of b');
    expect(events).toEqual(['add:a', 'add:b', 'update:a', 'delete:b']);
    expect(informer.get('default/a')?.data).toEqual({ v: '2' });
  });

  it('resumes after the server closes its watches, without relisting', async () => {
    const informer = configMaps();
    informer.start();
    await informer.waitForSync();
    await eventually(() => api.activeWatchCount() > 0, 'watch open');
    api.closeWatches();
    await create('after-close');
    await eventually(() => informer.get('default/after-close'), 'event after a closed watch');
    expect(informer.stats.watches).toBeGreaterThanOrEqual(2);
    expect(informer.stats.relists).toBe(1);
  });

  it('relists on 410 Expired and reports what changed meanwhile, deletions included', async () => {
    await create('gone');
    const informer = configMaps();
    const events: string[] = [];
    informer.on((e, o) => events.push(`${e}:${o.metadata!.name}`));
    informer.start();
    await informer.waitForSync();
    await eventually(() => api.activeWatchCount() > 0, 'watch open');
    api.expireWatches();
    await eventually(() => informer.stats.relists >= 2, 'relist after 410');
    await create('new');
    await core.deleteNamespacedConfigMap({ namespace: 'default', name: 'gone' });
    await eventually(() => events.includes('delete:gone') && events.includes('add:new'), 'events');
  });

  it('restarts a watch that stays silent past its liveness bound', async () => {
    const informer = configMaps({ livenessMs: 300 });
    informer.start();
    await informer.waitForSync();
    await eventually(() => informer.stats.restartsForSilence >= 1, 'a silence restart', 3000);
    await create('still-works');
    await eventually(() => informer.get('default/still-works'), 'event after restart');
  });

  it('asks the server to end every watch (timeoutSeconds) and carries on after it does', async () => {
    const informer = configMaps({ watchTimeoutSeconds: 1 });
    informer.start();
    await informer.waitForSync();
    await eventually(() => informer.stats.watches >= 2, 'a second watch', 4000);
    expect(
      api.requests.some((r) =>
        /watch=true.*timeoutSeconds=1|timeoutSeconds=1.*watch=true/.test(r.url),
      ),
    ).toBe(true);
    await create('late');
    await eventually(() => informer.get('default/late'), 'event on the renewed watch');
  });

  it('keeps retrying with backoff while the server is unreachable', async () => {
    const informer = new Informer<V1ConfigMap>({
      name: 'unreachable',
      kubeConfig: kc,
      path: '/api/v1/namespaces/default/configmaps',
      list: async () => {
        throw new Error('connection refused');
      },
      backoffInitialMs: 10,
      backoffMaxMs: 50,
    });
    informers.push(informer);
    const errors: unknown[] = [];
    (informer as unknown as { options: { onError: (e: unknown) => void } }).options.onError = (e) =>
      errors.push(e);
    informer.start();
    await eventually(() => errors.length >= 3, 'retries');
    expect(informer.hasSynced()).toBe(false);
  });
});
