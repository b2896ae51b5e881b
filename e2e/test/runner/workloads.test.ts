// The workload controllers' plans, without a server: what a Deployment, StatefulSet or Job
// asks for from the Pods the API holds.
import type { KObject } from '../../src/apiserver/types.js';
import { templateHash } from '../../src/runner/canonical.js';
import { planDeployment, planJob, planStatefulSet } from '../../src/runner/workloads.js';

const template = (image: string) => ({
  metadata: { labels: { app: 'x' } },
  spec: { containers: [{ name: 'c', image }] },
});

type Owner = KObject & { spec: Record<string, unknown> };

const owner = (kind: string, spec: Record<string, unknown>): Owner => ({
  apiVersion: kind === 'Job' ? 'batch/v1' : 'apps/v1',
  kind,
  metadata: { name: 'w', namespace: 'default', uid: `uid-${kind}`, generation: 2 },
  spec,
});

let serial = 0;
function pod(
  o: KObject,
  opts: { hash?: string; ready?: boolean; phase?: string; name?: string },
): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: opts.name ?? `p${serial++}`,
      namespace: 'default',
      creationTimestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, serial)).toISOString(),
      labels: opts.hash ? { 'pod-template-hash': opts.hash } : {},
      ownerReferences: [{ apiVersion: 'apps/v1', kind: o.kind!, name: 'w', uid: o.metadata.uid! }],
    },
    status: {
      phase: opts.phase ?? 'Running',
      conditions: [{ type: 'Ready', status: opts.ready ? 'True' : 'False' }],
    },
  };
}

describe('Deployment', () => {
  test('scales up and down, not-ready pods first', () => {
    const d = owner('Deployment', { replicas: 3, template: template('a') });
    const hash = templateHash(d.spec.template);
    const up = planDeployment(d, [pod(d, { hash, ready: true })]);
    expect(up.create).toHaveLength(2);
    expect(up.create[0].metadata.labels).toMatchObject({ app: 'x', 'pod-template-hash': hash });
    expect(up.create[0].metadata.ownerReferences![0]).toMatchObject({
      uid: d.metadata.uid,
      controller: true,
    });
    expect(up.status).toMatchObject({ replicas: 1, readyReplicas: 1, observedGeneration: 2 });

    const pods = [
      pod(d, { hash, ready: true }),
      pod(d, { hash, ready: false, name: 'slow' }),
      pod(d, { hash, ready: true }),
    ];
    const down = planDeployment({ ...d, spec: { ...d.spec, replicas: 2 } }, pods);
    expect(down.remove).toEqual(['slow']);
    expect(down.create).toEqual([]);
  });

  test('a new template surges one pod and retires old ones only while enough stay ready', () => {
    const d = owner('Deployment', { replicas: 2, template: template('b') });
    const hash = templateHash(d.spec.template);
    const old = [pod(d, { hash: 'old', ready: true }), pod(d, { hash: 'old', ready: true })];
    const first = planDeployment(d, old);
    expect(first.create).toHaveLength(1);
    expect(first.remove).toEqual([]);

    const surged = [...old, pod(d, { hash, ready: false })];
    const waiting = planDeployment(d, surged);
    expect(waiting.create).toEqual([]); // maxSurge 1 reached
    expect(waiting.remove).toEqual([]); // the new pod is not ready yet

    const readyNew = [...old, pod(d, { hash, ready: true })];
    const step = planDeployment(d, readyNew);
    expect(step.remove).toHaveLength(1);
    expect(old.map((p) => p.metadata.name)).toContain(step.remove[0]);
  });

  test('an unchanged status is planned byte for byte the same, so it is not written again', () => {
    const d = owner('Deployment', { replicas: 1, template: template('c') });
    const pods = [pod(d, { hash: templateHash(d.spec.template), ready: true })];
    const planned = planDeployment(d, pods).status;
    const at = '2020-01-01T00:00:00.000Z';
    const first = {
      ...planned,
      conditions: (planned.conditions as object[]).map((c) => ({
        ...c,
        lastUpdateTime: at,
        lastTransitionTime: at,
      })),
    };
    const again = planDeployment({ ...d, status: first }, pods).status;
    expect(again).toEqual(first);
    // A change moves the transition time of the condition that changed.
    const notReady = [pod(d, { hash: templateHash(d.spec.template), ready: false })];
    const changed = planDeployment({ ...d, status: first }, notReady).status;
    const available = (s: { conditions?: unknown }) =>
      (s.conditions as { type: string }[]).find((c) => c.type === 'Available');
    expect(available(changed)).toMatchObject({ status: 'False' });
    expect(available(changed)).not.toMatchObject({ lastTransitionTime: at });
    expect(available(first)).toMatchObject({ status: 'True' });
  });
});

describe('StatefulSet', () => {
  test('OrderedReady creates the next ordinal only once the previous one is ready; claims per pod', () => {
    const s = owner('StatefulSet', {
      replicas: 3,
      serviceName: 'svc',
      template: template('etcd'),
      volumeClaimTemplates: [{ metadata: { name: 'data' } }],
    });
    const first = planStatefulSet(s, []);
    expect(first.create.map((p) => p.metadata.name)).toEqual(['w-0']);
    expect(first.create[0].spec).toMatchObject({
      hostname: 'w-0',
      subdomain: 'svc',
      volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data-w-0' } }],
    });
    const hash = templateHash(s.spec.template);
    expect(planStatefulSet(s, [pod(s, { name: 'w-0', hash, ready: false })]).create).toEqual([]);
    expect(
      planStatefulSet(s, [pod(s, { name: 'w-0', hash, ready: true })]).create.map(
        (p) => p.metadata.name,
      ),
    ).toEqual(['w-1']);
  });

  test('Parallel creates every ordinal at once; scale-down removes the highest', () => {
    const s = owner('StatefulSet', {
      replicas: 3,
      podManagementPolicy: 'Parallel',
      template: template('etcd'),
    });
    expect(planStatefulSet(s, []).create.map((p) => p.metadata.name)).toEqual([
      'w-0',
      'w-1',
      'w-2',
    ]);
    const hash = templateHash(s.spec.template);
    const pods = ['w-0', 'w-1', 'w-2'].map((name) => pod(s, { name, hash, ready: true }));
    expect(planStatefulSet({ ...s, spec: { ...s.spec, replicas: 1 } }, pods).remove.sort()).toEqual(
      ['w-1', 'w-2'],
    );
  });
});

describe('Job', () => {
  test('runs one pod at a time until one succeeds or backoffLimit failures', () => {
    const j = owner('Job', {
      backoffLimit: 1,
      template: { spec: { restartPolicy: 'Never', containers: [] } },
    });
    expect(planJob(j, []).create).toHaveLength(1);
    expect(planJob(j, [pod(j, { phase: 'Running' })]).create).toEqual([]);
    const retry = planJob(j, [pod(j, { phase: 'Failed' })]);
    expect(retry.create).toHaveLength(1);
    expect(retry.finished).toBeUndefined();
    const failed = planJob(j, [pod(j, { phase: 'Failed' }), pod(j, { phase: 'Failed' })]);
    expect(failed.finished).toBe('Failed');
    expect(failed.create).toEqual([]);
    const done = planJob(j, [pod(j, { phase: 'Failed' }), pod(j, { phase: 'Succeeded' })]);
    expect(done.finished).toBe('Complete');
    expect(done.status).toMatchObject({ succeeded: 1, failed: 1, active: 0 });
    expect(done.status.completionTime).toBeDefined();
  });
});
