import type {
  KubeConfig,
  KubernetesObject,
  V1CronJob,
  V1Deployment,
  V1Secret,
} from '@kubernetes/client-node';
import { X509Certificate } from 'node:crypto';
import {
  API_VERSION,
  type Condition,
  type KafScaleCluster,
  type KafScaleClusterStatus,
} from '../api/v1alpha1.js';
import {
  brokerSelector,
  brokerTlsDnsNames,
  buildClusterObjects,
  etcdEndpoints,
  resourceNames,
  type BuildOptions,
  type TlsMaterial,
} from '../builders/index.js';
import { clusterValidator, invalidSpecCondition } from '../schema/index.js';
import { generateTlsMaterial, needsRenewal, renewCertificateAuthority } from '../tls/index.js';
import { errorMessage } from '../runtime/errors.js';
import type { ReconcileResult } from '../runtime/work-queue.js';
import { getCondition, removeCondition, setCondition } from './conditions.js';
import type { EventRecorder } from './events.js';
import { ObjectSync } from './object-sync.js';
import { SnapshotMonitor, type SnapshotObservation } from './snapshot-monitor.js';
import { CLUSTERS, CustomResources, isPaused, sameJson, splitKey } from './resources.js';

export interface ClusterReconcilerOptions {
  kubeConfig: KubeConfig;
  build: BuildOptions;
  events: EventRecorder;
  now?: () => Date;
  /** How soon a cluster that is not Running yet is looked at again. */
  progressRequeueMs?: number;
  /** Bounds of the etcd snapshot bucket check (SnapshotMonitor). */
  snapshotTimeoutMs?: number;
  snapshotCheckIntervalMs?: number;
  /** Told every snapshot observation, and undefined when a cluster stops having one (metrics). */
  onSnapshot?: SnapshotSink;
}

export type SnapshotSink = (
  namespace: string,
  name: string,
  observation: SnapshotObservation | undefined,
) => void;

type Phase = NonNullable<KafScaleClusterStatus['phase']>;

const b64 = (s: V1Secret | undefined, key: string): string =>
  Buffer.from(s?.data?.[key] ?? '', 'base64').toString('utf8');

/**
 * The Deployment's replicas, which the builder leaves out while autoscaling is on: the count the
 * operator last set stays until the HorizontalPodAutoscaler changes it, rather than being
 * removed (which would default it to one broker).
 */
const HANDED_OFF = [['spec', 'replicas']];

/**
 * Makes a KafScaleCluster's owned objects match its spec and reports what it sees in status.
 * Objects are created or updated by a three-way merge (ObjectSync.apply): fields the operator
 * stopped setting go, fields it never set (other controllers', people's) are not touched.
 */
export class ClusterReconciler {
  private readonly resources: CustomResources;
  private readonly objects: ObjectSync;
  private readonly now: () => Date;
  private readonly snapshots: SnapshotMonitor;

  constructor(private readonly options: ClusterReconcilerOptions) {
    this.resources = new CustomResources(options.kubeConfig);
    this.objects = new ObjectSync(options.kubeConfig);
    this.now = options.now ?? (() => new Date());
    this.snapshots = new SnapshotMonitor({
      kubeConfig: options.kubeConfig,
      timeoutMs: options.snapshotTimeoutMs,
      checkIntervalMs: options.snapshotCheckIntervalMs,
      now: this.now,
    });
  }

  readonly reconcile = async (key: string): Promise<ReconcileResult | void> => {
    const { namespace, name } = splitKey(key);
    const cluster = await this.resources.get(CLUSTERS, namespace, name);
    if (!cluster || cluster.metadata.deletionTimestamp) {
      this.forgetSnapshots(namespace, name);
      return;
    }
    if (isPaused(cluster)) return;

    const result = clusterValidator().validate(cluster);
    if (result.valid && typeof cluster.spec !== 'object') {
      result.valid = false;
      result.issues.push({ path: 'spec', message: 'Required value' });
    }
    if (!result.valid) {
      const condition = invalidSpecCondition(
        result.issues,
        cluster.metadata.generation,
        this.now(),
      );
      const old = getCondition(cluster.status?.conditions, 'Ready');
      if (old?.reason !== 'InvalidSpec' || old.message !== condition.message) {
        await this.event(cluster, 'Warning', 'InvalidSpec', condition.message);
      }
      await this.writeStatus(cluster, {
        ...cluster.status,
        observedGeneration: cluster.metadata.generation,
        phase: 'Invalid',
        conditions: setCondition(cluster.status?.conditions, condition, this.now()),
      });
      return;
    }
    const spec = result.object;
    try {
      return await this.sync(cluster, spec);
    } catch (error) {
      await this.writeStatus(cluster, {
        ...cluster.status,
        conditions: setCondition(
          cluster.status?.conditions,
          {
            type: 'Degraded',
            status: 'True',
            observedGeneration: cluster.metadata.generation,
            reason: 'ReconcileFailed',
            message: errorMessage(error).slice(0, 32768),
          },
          this.now(),
        ),
      }).catch(() => undefined);
      throw error;
    }
  };

  private async sync(
    cluster: KafScaleCluster,
    spec: KafScaleCluster,
  ): Promise<ReconcileResult | void> {
    const tls = await this.tlsMaterial(spec);
    const desired = buildClusterObjects(spec, this.options.build, tls?.material);
    let deployment: V1Deployment | undefined;
    let cronJob: V1CronJob | undefined;
    let changed = false;
    for (const object of desired) {
      const { outcome, object: stored } = await this.objects.apply(
        object,
        object.kind === 'Deployment' ? HANDED_OFF : [],
      );
      if (outcome !== 'unchanged') changed = true;
      if (outcome === 'created') {
        await this.event(cluster, 'Normal', 'Created', `Created ${describe(object)}`);
      }
      if (object.kind === 'Deployment') deployment = stored as V1Deployment;
      if (object.kind === 'CronJob') cronJob = stored as V1CronJob;
    }
    if (tls?.caRenewed) {
      const notAfter = new Date(new X509Certificate(tls.material.caCertPem).validTo);
      await this.event(
        cluster,
        'Normal',
        'CACertificateRenewed',
        `Renewed the CA certificate (same key) valid until ${notAfter.toISOString()}`,
      );
    }
    if (tls?.issued) {
      await this.event(
        cluster,
        'Normal',
        tls.issued,
        `Issued the server certificate valid until ${tls.material.notAfter.toISOString()}`,
      );
    }
    for (const stale of this.optionalObjects(spec)) {
      const wanted = desired.some(
        (d) => d.kind === stale.kind && d.metadata?.name === stale.metadata?.name,
      );
      if (!wanted && (await this.objects.deleteOwned(stale, cluster.metadata.uid))) {
        changed = true;
        await this.event(cluster, 'Normal', 'Deleted', `Deleted ${describe(stale)}`);
      }
    }
    return this.updateStatus(cluster, spec, deployment, cronJob, changed, tls?.material);
  }

  /** Objects that exist only for some specs, removed when the spec no longer asks for them. */
  private optionalObjects(cluster: KafScaleCluster): KubernetesObject[] {
    const names = resourceNames(cluster);
    const ref = (apiVersion: string, kind: string, name: string): KubernetesObject => ({
      apiVersion,
      kind,
      metadata: { name, namespace: cluster.metadata.namespace },
    });
    return [
      ref('autoscaling/v2', 'HorizontalPodAutoscaler', names.broker),
      ref('v1', 'Service', names.external),
      ref('batch/v1', 'CronJob', names.snapshot),
      ref('v1', 'Secret', names.tlsSecret),
      ref('v1', 'Secret', names.tlsCaSecret),
    ];
  }

  /**
   * The generated certificates. The CA is renewed two thirds through its life with the same name
   * and key (renewCertificateAuthority), so every certificate it issued stays valid and clients
   * holding the old ca.crt keep connecting until the old CA certificate expires. The server
   * certificate in the Secret is kept while it is good (not two thirds through its life,
   * covering every name), otherwise a new one is issued by the same CA. Brokers re-read the
   * Secret's files in place, so neither renewal restarts them.
   */
  private async tlsMaterial(cluster: KafScaleCluster): Promise<
    | {
        material: TlsMaterial;
        issued?: 'CertificateIssued' | 'CertificateRenewed';
        caRenewed?: boolean;
      }
    | undefined
  > {
    if (!cluster.spec.tls.enabled || cluster.spec.tls.secretRef) return undefined;
    const names = resourceNames(cluster);
    const ns = cluster.metadata.namespace;
    const secretRef = (name: string): KubernetesObject => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace: ns },
    });
    const secret = (await this.objects.read(secretRef(names.tlsSecret))) as V1Secret | undefined;
    const caSecret = (await this.objects.read(secretRef(names.tlsCaSecret))) as
      V1Secret | undefined;
    const now = this.now();
    let ca =
      b64(caSecret, 'ca.crt') && b64(caSecret, 'ca.key')
        ? { certPem: b64(caSecret, 'ca.crt'), keyPem: b64(caSecret, 'ca.key') }
        : undefined;
    const caRenewed = ca !== undefined && needsRenewal(ca.certPem, now);
    if (ca && caRenewed) ca = renewCertificateAuthority(ca, now);
    const certPem = b64(secret, 'tls.crt');
    if (
      ca &&
      certPem &&
      !needsRenewal(certPem, now, brokerTlsDnsNames(cluster, this.options.build))
    ) {
      return {
        material: {
          caCertPem: ca.certPem,
          caKeyPem: ca.keyPem,
          certPem,
          keyPem: b64(secret, 'tls.key'),
          notAfter: new Date(new X509Certificate(certPem).validTo),
        },
        caRenewed,
      };
    }
    return {
      material: generateTlsMaterial(cluster, this.options.build, now, ca),
      issued: certPem ? 'CertificateRenewed' : 'CertificateIssued',
      caRenewed,
    };
  }

  private async updateStatus(
    cluster: KafScaleCluster,
    spec: KafScaleCluster,
    deployment: V1Deployment | undefined,
    cronJob: V1CronJob | undefined,
    changed: boolean,
    tls: TlsMaterial | undefined,
  ): Promise<ReconcileResult | void> {
    const now = this.now();
    const generation = cluster.metadata.generation;
    const desiredReplicas = spec.spec.autoscaling.enabled
      ? (deployment?.spec?.replicas ?? spec.spec.autoscaling.minReplicas)
      : spec.spec.brokers.replicas;
    const replicas = deployment?.status?.replicas ?? 0;
    const ready = deployment?.status?.readyReplicas ?? 0;
    const updated = deployment?.status?.updatedReplicas ?? 0;
    const rolledOut =
      !changed &&
      (deployment?.status?.observedGeneration ?? 0) >= (deployment?.metadata?.generation ?? 0) &&
      updated >= desiredReplicas &&
      replicas === desiredReplicas;
    const previous = cluster.status?.phase;
    let phase: Phase;
    if (ready >= desiredReplicas) phase = 'Running';
    else if (ready > 0 && (previous === 'Running' || previous === 'Degraded')) phase = 'Degraded';
    else phase = 'Provisioning';

    let conditions: Condition[] | undefined = cluster.status?.conditions;
    const set = (type: string, status: Condition['status'], reason: string, message: string) => {
      conditions = setCondition(
        conditions,
        { type, status, observedGeneration: generation, reason, message },
        now,
      );
    };
    set(
      'Ready',
      phase === 'Running' ? 'True' : 'False',
      phase === 'Running' ? 'BrokersReady' : 'BrokersNotReady',
      `${ready}/${desiredReplicas} brokers ready`,
    );
    set(
      'Progressing',
      rolledOut ? 'False' : 'True',
      rolledOut ? 'RolloutComplete' : 'RollingOut',
      rolledOut
        ? `generation ${generation} is rolled out`
        : `rolling out generation ${generation}: ${updated}/${desiredReplicas} brokers updated`,
    );
    set(
      'Degraded',
      phase === 'Degraded' ? 'True' : 'False',
      phase === 'Degraded' ? 'BrokersNotReady' : 'AsExpected',
      phase === 'Degraded' ? `only ${ready}/${desiredReplicas} brokers ready` : 'healthy',
    );
    let lastSnapshotTime = cluster.status?.lastSnapshotTime;
    let snapshotFailing = false;
    if (spec.spec.etcd.managed?.backup.enabled && !spec.spec.etcd.endpoints) {
      const lastJobSuccess = cronJob?.status?.lastSuccessfulTime;
      const seen = await this.snapshots.observe(
        spec,
        lastJobSuccess ? new Date(lastJobSuccess).toISOString() : undefined,
      );
      this.options.onSnapshot?.(spec.metadata.namespace, spec.metadata.name, seen);
      if (seen.lastSnapshotTime) lastSnapshotTime = seen.lastSnapshotTime.toISOString();
      const jobFailed = seen.lastJobSucceeded === false;
      set(
        'EtcdSnapshotAccess',
        seen.access.status,
        seen.access.reason,
        jobFailed && seen.access.status === 'True'
          ? `${seen.access.message}; but the newest snapshot Job failed, see its logs`
          : seen.access.message,
      );
      snapshotFailing = seen.access.status === 'False' || jobFailed;
    } else {
      conditions = removeCondition(conditions, 'EtcdSnapshotAccess');
      this.forgetSnapshots(spec.metadata.namespace, spec.metadata.name);
    }
    if (phase === 'Running' && snapshotFailing) {
      phase = 'Degraded';
      set(
        'Degraded',
        'True',
        'EtcdSnapshotFailing',
        'etcd snapshots are failing; see the EtcdSnapshotAccess condition',
      );
    }
    const names = resourceNames(spec);
    const status: KafScaleClusterStatus = {
      ...cluster.status,
      observedGeneration: generation,
      phase,
      replicas,
      readyReplicas: ready,
      selector: brokerSelector(spec),
      bootstrapServers: `${names.bootstrap}.${spec.metadata.namespace}.svc.${this.options.build.clusterDomain}:9092`,
      etcdEndpoints: etcdEndpoints(spec, this.options.build).join(','),
      conditions,
    };
    if (lastSnapshotTime) status.lastSnapshotTime = lastSnapshotTime;
    if (tls) status.tlsNotAfter = tls.notAfter.toISOString();
    else delete status.tlsNotAfter;
    if (previous !== phase) {
      await this.event(
        cluster,
        phase === 'Degraded' ? 'Warning' : 'Normal',
        phase,
        `${ready}/${desiredReplicas} brokers ready${snapshotFailing ? '; etcd snapshots failing' : ''}`,
      );
    }
    await this.writeStatus(cluster, status);
    if (phase !== 'Running' || !rolledOut) {
      return { requeueAfterMs: this.options.progressRequeueMs ?? 15_000 };
    }
  }

  private forgetSnapshots(namespace: string, name: string): void {
    this.snapshots.forget(`${namespace}/${name}`);
    this.options.onSnapshot?.(namespace, name, undefined);
  }

  private async writeStatus(
    cluster: KafScaleCluster,
    status: KafScaleClusterStatus,
  ): Promise<void> {
    if (sameJson(cluster.status ?? {}, status)) return;
    await this.resources.replaceStatus(CLUSTERS, { ...cluster, status });
  }

  private event(
    cluster: KafScaleCluster,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
  ): Promise<void> {
    return this.options.events.record(
      { apiVersion: API_VERSION, kind: 'KafScaleCluster', metadata: cluster.metadata },
      type,
      reason,
      message,
    );
  }
}

function describe(o: KubernetesObject): string {
  return `${o.kind} ${o.metadata?.name}`;
}
