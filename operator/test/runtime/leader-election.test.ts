import {
  CoordinationV1Api,
  CoreV1Api,
  type KubeConfig,
  type V1ConfigMap,
} from '@kubernetes/client-node';
import type { ApiServer } from '../../../e2e/src/apiserver/index.js';
import { Controller } from '../../src/runtime/controller.js';
import { Informer, objectKey } from '../../src/runtime/informer.js';
import { Manager } from '../../src/runtime/manager.js';
import { eventually, startApi } from './support.js';

/** One operator replica: a controller that records which keys it reconciled. */
function replica(kc: KubeConfig, identity: string) {
  const core = kc.makeApiClient(CoreV1Api);
  const reconciled: string[] = [];
  const manager = new Manager({
    leaderElection: {
      kubeConfig: kc,
      namespace: 'default',
      name: 'kafscale-operator',
      identity,
      leaseDurationMs: 2000,
      renewDeadlineMs: 1500,
      retryPeriodMs: 100,
    },
  });
  const informer = manager.addInformer(
    new Informer<V1ConfigMap>({
      name: 'configmaps',
      kubeConfig: kc,
      path: '/api/v1/namespaces/default/configmaps',
      list: async () => {
        const l = await core.listNamespacedConfigMap({ namespace: 'default' });
        return { items: l.items, resourceVersion: l.metadata!.resourceVersion! };
      },
    }),
  );
  manager.addController(
    new Controller({
      name: 'configmaps',
      reconcile: async (key) => void reconciled.push(key),
    }).watchPrimary(informer, objectKey),
  );
  return { manager, reconciled };
}

describe('leader election', () => {
  let api: ApiServer;
  let kc: KubeConfig;

  beforeEach(async () => ({ api, kc } = await startApi()));
  afterEach(() => api.stop());

  it('lets only the leader reconcile, and hands over when the leader shuts down', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const leases = kc.makeApiClient(CoordinationV1Api);
    const a = replica(kc, 'replica-a');
    await a.manager.start();
    await eventually(() => a.manager.isLeader(), 'a leads');
    const b = replica(kc, 'replica-b');
    await b.manager.start();

    await core.createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { name: 'one' } },
    });
    await eventually(() => a.reconciled.includes('default/one'), 'a reconciles');
    await new Promise((r) => setTimeout(r, 300));
    expect(b.manager.isLeader()).toBe(false);
    expect(b.reconciled).toEqual([]);
    const lease = await leases.readNamespacedLease({
      namespace: 'default',
      name: 'kafscale-operator',
    });
    expect(lease.spec?.holderIdentity).toBe('replica-a');

    // Release on shutdown: b takes over well before the 2 s lease would have expired.
    const stoppedAt = Date.now();
    await a.manager.stop();
    await eventually(() => b.manager.isLeader(), 'b leads', 1500);
    expect(Date.now() - stoppedAt).toBeLessThan(1500);
    await eventually(() => b.reconciled.includes('default/one'), 'b resyncs existing objects');
    await core.createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { name: 'two' } },
    });
    await eventually(() => b.reconciled.includes('default/two'), 'b reconciles new objects');
    expect(a.reconciled).not.toContain('default/two');
    const after = await leases.readNamespacedLease({
      namespace: 'default',
      name: 'kafscale-operator',
    });
    expect(after.spec?.holderIdentity).toBe('replica-b');
    expect(after.spec?.leaseTransitions).toBe(1);
    await b.manager.stop();
  });

  it('takes over from a leader that stopped renewing once its lease expires', async () => {
    const leases = kc.makeApiClient(CoordinationV1Api);
    await leases.createNamespacedLease({
      namespace: 'default',
      body: {
        metadata: { name: 'kafscale-operator' },
        spec: { holderIdentity: 'crashed', leaseDurationSeconds: 1, renewTime: new Date() },
      },
    });
    const b = replica(kc, 'replica-b');
    await b.manager.start();
    await new Promise((r) => setTimeout(r, 300));
    expect(b.manager.isLeader()).toBe(false);
    await eventually(() => b.manager.isLeader(), 'b leads after expiry', 3000);
    await b.manager.stop();
  });
});
