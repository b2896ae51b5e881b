// The workload controllers of the emulated cluster, as pure functions of what the API holds:
// which Pods a Deployment, StatefulSet or Job should have, which to delete, and their status.
// The Deployment controller creates Pods directly (no ReplicaSets) and rolls a changed template
// one surge pod at a time, never below the desired ready count (maxSurge 1, maxUnavailable 0).
import type { KObject, OwnerReference } from '../apiserver/types.js';
import { templateHash } from './canonical.js';
import type { Obj } from './pod-spec.js';

export interface PodPlan {
  create: KObject[];
  /** Names of Pods to delete. */
  remove: string[];
  status: Obj;
}

export const isReady = (pod: KObject): boolean =>
  ((pod.status as Obj | undefined)?.conditions as Obj[] | undefined)?.some(
    (c) => c.type === 'Ready' && c.status === 'True',
  ) ?? false;

export const podPhase = (pod: KObject): string =>
  ((pod.status as Obj | undefined)?.phase as string) ?? 'Pending';

export function ownedBy(pods: KObject[], owner: KObject): KObject[] {
  return pods.filter((p) => p.metadata.ownerReferences?.some((r) => r.uid === owner.metadata.uid));
}

function randomSuffix(): string {
  const chars = 'bcdfghjklmnpqrstvwxz2456789';
  return Array.from({ length: 5 }, () => chars[Math.floor(Math.random() * chars.length)]).join('');
}

/** The reference that makes `owner` the controller of what it creates (and collects it with it). */
function controllerRef(owner: KObject): OwnerReference {
  return {
    apiVersion: owner.apiVersion!,
    kind: owner.kind!,
    name: owner.metadata.name!,
    uid: owner.metadata.uid!,
    controller: true,
    blockOwnerDeletion: true,
  };
}

function podFor(
  owner: KObject,
  name: string,
  template: Obj,
  extraLabels: Record<string, string>,
): KObject {
  const meta = (template.metadata ?? {}) as Obj;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: owner.metadata.namespace,
      labels: { ...((meta.labels ?? {}) as Record<string, string>), ...extraLabels },
      annotations: (meta.annotations ?? {}) as Record<string, string>,
      ownerReferences: [controllerRef(owner)],
    },
    spec: structuredClone(template.spec) as Obj,
  };
}

const replicasOf = (spec: Obj): number => (spec.replicas as number | undefined) ?? 1;
const hashOf = (pod: KObject) => pod.metadata.labels?.['pod-template-hash'];

/** Not-ready pods first, then the newest: the ones a scale-down removes. */
function removalOrder(pods: KObject[]): KObject[] {
  return [...pods].sort((a, b) => {
    if (isReady(a) !== isReady(b)) return isReady(a) ? 1 : -1;
    return (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? '');
  });
}

export function planDeployment(deployment: KObject, allPods: KObject[]): PodPlan {
  const spec = deployment.spec as Obj;
  const template = spec.template as Obj;
  const hash = templateHash(template);
  const pods = ownedBy(allPods, deployment).filter(
    (p) => !['Succeeded', 'Failed'].includes(podPhase(p)),
  );
  const current = pods.filter((p) => hashOf(p) === hash);
  const old = pods.filter((p) => hashOf(p) !== hash);
  const replicas = replicasOf(spec);
  const rolling = (spec.strategy as Obj | undefined)?.rollingUpdate as Obj | undefined;
  const maxSurge = typeof rolling?.maxSurge === 'number' ? rolling.maxSurge : 1;
  const maxUnavailable = typeof rolling?.maxUnavailable === 'number' ? rolling.maxUnavailable : 0;
  const create: KObject[] = [];
  const remove: string[] = [];
  const newPod = () =>
    podFor(deployment, `${deployment.metadata.name}-${hash}-${randomSuffix()}`, template, {
      'pod-template-hash': hash,
    });

  if (old.length === 0) {
    for (let i = current.length; i < replicas; i++) create.push(newPod());
    remove.push(
      ...removalOrder(current)
        .slice(0, Math.max(0, current.length - replicas))
        .map((p) => p.metadata.name!),
    );
  } else {
    // Surge a new pod, and retire an old one only while enough pods stay ready.
    const total = pods.length;
    if (current.length < replicas && total < replicas + Math.max(1, maxSurge))
      create.push(newPod());
    const ready = pods.filter(isReady).length;
    const minReady = replicas - maxUnavailable;
    let readyLeft = ready;
    for (const p of removalOrder(old)) {
      // An old pod that is not ready counts for nothing: it can always go.
      if (isReady(p)) {
        if (readyLeft - 1 < minReady) break;
        readyLeft--;
      }
      remove.push(p.metadata.name!);
    }
    if (current.length > replicas) {
      remove.push(
        ...removalOrder(current)
          .slice(0, current.length - replicas)
          .map((p) => p.metadata.name!),
      );
    }
  }

  const readyReplicas = pods.filter(isReady).length;
  const updatedReplicas = current.length;
  const available = readyReplicas >= replicas - maxUnavailable;
  const complete =
    old.length === 0 && updatedReplicas === replicas && current.filter(isReady).length === replicas;
  const now = new Date().toISOString();
  // A condition that did not change keeps its times, as the real controller writes them: a status
  // rewritten on every pass would wake every watcher of the Deployment (the operator) each time.
  const previous = ((deployment.status as Obj | undefined)?.conditions as Obj[] | undefined) ?? [];
  const condition = (type: string, ok: boolean, reason: string) => {
    const status = ok ? 'True' : 'False';
    const before = previous.find((c) => c.type === type);
    const same = before?.status === status;
    return {
      type,
      status,
      reason,
      lastUpdateTime: same && before?.reason === reason ? before.lastUpdateTime : now,
      lastTransitionTime: same ? before.lastTransitionTime : now,
    };
  };
  return {
    create,
    remove,
    status: {
      observedGeneration: deployment.metadata.generation ?? 1,
      replicas: pods.length,
      updatedReplicas,
      readyReplicas,
      availableReplicas: readyReplicas,
      unavailableReplicas: Math.max(0, replicas - readyReplicas),
      conditions: [
        condition(
          'Available',
          available,
          available ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
        ),
        condition('Progressing', true, complete ? 'NewReplicaSetAvailable' : 'ReplicaSetUpdated'),
      ],
    },
  };
}

export function planStatefulSet(sts: KObject, allPods: KObject[]): PodPlan {
  const spec = sts.spec as Obj;
  const template = spec.template as Obj;
  const hash = templateHash(template);
  const name = sts.metadata.name!;
  const replicas = replicasOf(spec);
  const pods = ownedBy(allPods, sts);
  const byOrdinal = new Map(pods.map((p) => [Number(p.metadata.name!.slice(name.length + 1)), p]));
  const parallel = spec.podManagementPolicy === 'Parallel';
  const create: KObject[] = [];
  const remove: string[] = [];
  for (let i = 0; i < replicas; i++) {
    if (byOrdinal.has(i)) continue;
    if (!parallel && i > 0 && !(byOrdinal.get(i - 1) && isReady(byOrdinal.get(i - 1)!))) break;
    const podName = `${name}-${i}`;
    const pod = podFor(sts, podName, template, {
      'controller-revision-hash': `${name}-${hash}`,
      'pod-template-hash': hash,
      'statefulset.kubernetes.io/pod-name': podName,
    });
    const podSpec = pod.spec as Obj;
    podSpec.hostname = podName;
    podSpec.subdomain = spec.serviceName;
    // Each claim template becomes a claim of this pod, kept across restarts and deletions.
    const claims = ((spec.volumeClaimTemplates ?? []) as KObject[]).map((t) => ({
      name: t.metadata.name!,
      persistentVolumeClaim: { claimName: `${t.metadata.name}-${podName}` },
    }));
    podSpec.volumes = [...((podSpec.volumes ?? []) as Obj[]), ...claims];
    create.push(pod);
  }
  for (const [ordinal, pod] of byOrdinal) if (ordinal >= replicas) remove.push(pod.metadata.name!);
  // Rolling update: the highest-ordinal pod on an old template goes once all others are ready.
  const outdated = [...byOrdinal.entries()]
    .filter(([o, p]) => o < replicas && hashOf(p) !== hash)
    .sort(([a], [b]) => b - a);
  if (
    outdated.length > 0 &&
    remove.length === 0 &&
    pods.every((p) => p === outdated[0][1] || isReady(p))
  ) {
    remove.push(outdated[0][1].metadata.name!);
  }
  const ready = pods.filter(isReady).length;
  const updated = pods.filter((p) => hashOf(p) === hash).length;
  return {
    create,
    remove,
    status: {
      observedGeneration: sts.metadata.generation ?? 1,
      replicas: pods.length,
      readyReplicas: ready,
      availableReplicas: ready,
      currentReplicas: updated,
      updatedReplicas: updated,
      currentRevision: `${name}-${hash}`,
      updateRevision: `${name}-${hash}`,
      collisionCount: 0,
    },
  };
}

/** A Job runs one pod at a time until one succeeds or backoffLimit failures have happened. */
export function planJob(
  job: KObject,
  allPods: KObject[],
): PodPlan & { finished?: 'Complete' | 'Failed' } {
  const spec = job.spec as Obj;
  const pods = ownedBy(allPods, job);
  const succeeded = pods.filter((p) => podPhase(p) === 'Succeeded').length;
  const failed = pods.filter((p) => podPhase(p) === 'Failed').length;
  const active = pods.length - succeeded - failed;
  const backoffLimit = (spec.backoffLimit as number | undefined) ?? 6;
  const previous = (job.status ?? {}) as Obj;
  const now = new Date().toISOString();
  let finished: 'Complete' | 'Failed' | undefined;
  if (succeeded > 0) finished = 'Complete';
  else if (failed > backoffLimit) finished = 'Failed';
  const create: KObject[] = [];
  if (!finished && active === 0) {
    const template = spec.template as Obj;
    create.push(
      podFor(job, `${job.metadata.name}-${randomSuffix()}`, template, {
        'job-name': job.metadata.name!,
        'batch.kubernetes.io/job-name': job.metadata.name!,
      }),
    );
  }
  const status: Obj = {
    startTime: previous.startTime ?? now,
    active: finished ? 0 : Math.max(active, create.length),
    succeeded,
    failed,
    ready: pods.filter(isReady).length,
  };
  if (finished) {
    const before = (previous.conditions as Obj[] | undefined)?.find((c) => c.type === finished);
    const at = (before?.lastTransitionTime as string) ?? now;
    status.conditions = [
      {
        type: finished,
        status: 'True',
        lastProbeTime: at,
        lastTransitionTime: at,
        ...(finished === 'Failed' ? { reason: 'BackoffLimitExceeded' } : {}),
      },
    ];
    if (finished === 'Complete') status.completionTime = previous.completionTime ?? now;
  }
  return { create, remove: [], status, finished };
}

/** The Job a CronJob starts now: its jobTemplate, owned by the CronJob. */
export function jobFromCronJob(cronJob: KObject, name: string): KObject {
  const template = ((cronJob.spec as Obj).jobTemplate ?? {}) as Obj;
  const meta = (template.metadata ?? {}) as Obj;
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      namespace: cronJob.metadata.namespace,
      labels: (meta.labels ?? {}) as Record<string, string>,
      annotations: {
        ...((meta.annotations ?? {}) as Record<string, string>),
        'cronjob.kubernetes.io/instantiate': 'manual',
      },
      ownerReferences: [controllerRef(cronJob)],
    },
    spec: structuredClone(template.spec ?? {}) as Obj,
  };
}
