import { BatchV1Api, CoreV1Api, type KubeConfig, type V1Job } from '@kubernetes/client-node';
import type { ObjectInfo } from '../../../broker/src/storage/object-store.js';
import { S3ObjectStore } from '../../../broker/src/storage/s3-object-store.js';
import type { Condition, KafScaleCluster } from '../api/v1alpha1.js';
import { snapshotLocation } from '../builders/cronjob.js';
import { metadataClusterName, resourceNames } from '../builders/metadata.js';
import { errorCode, errorMessage } from '../runtime/errors.js';

/** What the operator knows about a cluster's etcd snapshots. */
export interface SnapshotObservation {
  /** The EtcdSnapshotAccess condition (type and generation are the caller's). */
  access: Pick<Condition, 'status' | 'reason' | 'message'>;
  /** Creation time of the newest complete snapshot (document and .sha256). */
  lastSnapshotTime?: Date;
  /** Whether the newest finished snapshot Job succeeded; undefined before any finished. */
  lastJobSucceeded?: boolean;
}

export interface SnapshotMonitorOptions {
  kubeConfig: KubeConfig;
  /** Upper bound of one bucket check, connection included. */
  timeoutMs?: number;
  /** How long a bucket check's answer is reused before the bucket is asked again. */
  checkIntervalMs?: number;
  now?: () => Date;
}

/** `snapshot-20240501T120000123Z.json`, as `kafscale snapshot create` names them. */
const SNAPSHOT = /\/snapshot-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z\.json$/;

const DENIED = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidToken',
  'ExpiredToken',
  'KMS.AccessDeniedException',
]);

/**
 * Checks a cluster's etcd snapshots where they land: lists the snapshot folder of the backup
 * bucket with the cluster's own static credentials (spec.s3.credentialsSecretRef), which proves
 * access and gives the newest snapshot, and reads the outcome of the newest snapshot Job. A
 * check never takes longer than timeoutMs; S3 being unreachable is an answer, not an error.
 */
export class SnapshotMonitor {
  private readonly core: CoreV1Api;
  private readonly batch: BatchV1Api;
  private readonly timeoutMs: number;
  private readonly checkIntervalMs: number;
  private readonly now: () => Date;
  private readonly checks = new Map<
    string,
    { input: string; at: number; result: Omit<SnapshotObservation, 'lastJobSucceeded'> }
  >();

  constructor(options: SnapshotMonitorOptions) {
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.batch = options.kubeConfig.makeApiClient(BatchV1Api);
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.checkIntervalMs = options.checkIntervalMs ?? 60_000;
    this.now = options.now ?? (() => new Date());
  }

  /** `cluster` is validated (defaults applied) and has managed etcd with backups enabled. */
  async observe(
    cluster: KafScaleCluster,
    cronJobLastSuccess?: string,
  ): Promise<SnapshotObservation> {
    const lastJobSucceeded = await this.lastJobSucceeded(cluster);
    const secretRef = cluster.spec.s3.credentialsSecretRef;
    if (!secretRef) {
      // The brokers' identity (IRSA, instance profile) is not the operator's to borrow: judge
      // access by what the snapshot Jobs, which run with it, achieved.
      const last = cronJobLastSuccess ? new Date(cronJobLastSuccess) : undefined;
      if (lastJobSucceeded === false) {
        return {
          access: {
            status: 'False',
            reason: 'SnapshotJobFailed',
            message: `the newest ${resourceNames(cluster).snapshot} Job failed; see its logs`,
          },
          lastSnapshotTime: last,
          lastJobSucceeded,
        };
      }
      if (last) {
        return {
          access: {
            status: 'True',
            reason: 'SnapshotJobSucceeded',
            message: `last snapshot ${last.toISOString()}, written by the snapshot Job`,
          },
          lastSnapshotTime: last,
          lastJobSucceeded,
        };
      }
      return {
        access: {
          status: 'Unknown',
          reason: 'NoSnapshotYet',
          message: 'no snapshot job has succeeded yet',
        },
        lastJobSucceeded,
      };
    }
    return { ...(await this.bucketCheck(cluster)), lastJobSucceeded };
  }

  /** Drops what is remembered of a cluster that was deleted or no longer takes backups. */
  forget(key: string): void {
    this.checks.delete(key);
  }

  private async bucketCheck(
    cluster: KafScaleCluster,
  ): Promise<Omit<SnapshotObservation, 'lastJobSucceeded'>> {
    const key = `${cluster.metadata.namespace}/${cluster.metadata.name}`;
    const input = JSON.stringify([cluster.metadata.uid, cluster.spec.s3, cluster.spec.etcd]);
    const cached = this.checks.get(key);
    const now = this.now().getTime();
    if (cached?.input === input && now - cached.at < this.checkIntervalMs) return cached.result;
    const result = await this.checkBucket(cluster);
    this.checks.set(key, { input, at: now, result });
    return result;
  }

  private async checkBucket(
    cluster: KafScaleCluster,
  ): Promise<Omit<SnapshotObservation, 'lastJobSucceeded'>> {
    const { s3 } = cluster.spec;
    const ref = s3.credentialsSecretRef!;
    const denied = (reason: string, message: string) => ({
      access: { status: 'False' as const, reason, message },
    });
    let data: Record<string, string> | undefined;
    try {
      data = (
        await this.core.readNamespacedSecret({
          namespace: cluster.metadata.namespace,
          name: ref.name,
        })
      ).data;
    } catch (error) {
      if (errorCode(error) !== 404) throw error;
      return denied(
        'CredentialsNotFound',
        `Secret ${ref.name} (spec.s3.credentialsSecretRef) not found`,
      );
    }
    const field = (k: string) => Buffer.from(data?.[k] ?? '', 'base64').toString('utf8');
    const accessKeyId = field(ref.accessKeyIdKey);
    const secretAccessKey = field(ref.secretAccessKeyKey);
    if (!accessKeyId || !secretAccessKey) {
      return denied(
        'CredentialsNotFound',
        `Secret ${ref.name} lacks ${!accessKeyId ? ref.accessKeyIdKey : ref.secretAccessKeyKey}`,
      );
    }

    const { bucket, prefix } = snapshotLocation(cluster);
    const folder = `${prefix}/${metadataClusterName(cluster)}/`;
    const where = `s3://${bucket}/${folder}`;
    const store = new S3ObjectStore({
      bucket,
      region: s3.region,
      endpoint: s3.endpoint,
      forcePathStyle: s3.pathStyle,
      credentials: { accessKeyId, secretAccessKey },
      maxAttempts: 1,
      connectionTimeoutMs: this.timeoutMs,
      requestTimeoutMs: this.timeoutMs,
    });
    let timer: NodeJS.Timeout | undefined;
    let listed: ObjectInfo[];
    try {
      listed = await Promise.race([
        store.list(`${folder}snapshot-`),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${this.timeoutMs} ms`)),
            this.timeoutMs,
          );
        }),
      ]);
    } catch (error) {
      const { reason, detail } = classify(error);
      return denied(reason, `cannot list ${where}: ${detail}`);
    } finally {
      clearTimeout(timer);
      await store.close().catch(() => undefined);
    }

    const keys = new Set(listed.map((o) => o.key));
    const newest = listed
      .filter((o) => SNAPSHOT.test(o.key) && keys.has(`${o.key}.sha256`))
      .map((o) => snapshotTime(o.key))
      .sort((a, b) => b.getTime() - a.getTime())[0];
    return {
      access: {
        status: 'True',
        reason: 'BucketReachable',
        message: newest
          ? `${where} is reachable; newest snapshot ${newest.toISOString()}`
          : `${where} is reachable; no snapshot there yet`,
      },
      lastSnapshotTime: newest,
    };
  }

  private async lastJobSucceeded(cluster: KafScaleCluster): Promise<boolean | undefined> {
    const jobs = await this.batch.listNamespacedJob({
      namespace: cluster.metadata.namespace,
      labelSelector: `app.kubernetes.io/instance=${cluster.metadata.name},app.kubernetes.io/component=etcd-snapshot`,
    });
    const finished = jobs.items
      .map((job) => ({ job, end: finishedAt(job) }))
      .filter((j): j is { job: V1Job; end: { at: number; succeeded: boolean } } => !!j.end)
      .sort((a, b) => b.end.at - a.end.at);
    return finished[0]?.end.succeeded;
  }
}

function finishedAt(job: V1Job): { at: number; succeeded: boolean } | undefined {
  const done = job.status?.conditions?.find(
    (c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
  );
  if (!done) return undefined;
  const at =
    done.lastTransitionTime ?? job.status?.completionTime ?? job.metadata?.creationTimestamp;
  return { at: at ? new Date(at).getTime() : 0, succeeded: done.type === 'Complete' };
}

function snapshotTime(key: string): Date {
  const [, y, mo, d, h, mi, s, ms] = SNAPSHOT.exec(key)!;
  return new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}Z`);
}

/** A reason for the condition from the S3 error (the store wraps the SDK's as cause). */
function classify(error: unknown): { reason: string; detail: string } {
  const cause = (error as { cause?: unknown })?.cause ?? error;
  const name = (cause as { name?: string; Code?: string })?.Code ?? (cause as Error)?.name;
  const status = (cause as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  const detail = errorMessage(error);
  if ((name && DENIED.has(name)) || status === 403) return { reason: 'AccessDenied', detail };
  if (name === 'NoSuchBucket') return { reason: 'BucketNotFound', detail };
  return { reason: 'BucketUnreachable', detail };
}
