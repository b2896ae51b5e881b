import type { V1CronJob } from '@kubernetes/client-node';
import type { KafScaleCluster } from '../api/v1alpha1.js';
import { brokerSecretEnv } from './broker-env.js';
import { labels, objectMeta, resourceNames } from './metadata.js';
import type { BuildOptions } from './options.js';
import {
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
} from './pod-security.js';

/** Where a cluster's snapshots go: PREFIX/NAMESPACE/NAME, so clusters can share a bucket. */
export function snapshotLocation(cluster: KafScaleCluster): { bucket: string; prefix: string } {
  const backup = cluster.spec.etcd.managed!.backup;
  return {
    bucket: backup.bucket ?? cluster.spec.s3.bucket,
    prefix: `${backup.prefix}/${cluster.metadata.namespace}/${cluster.metadata.name}`,
  };
}

/**
 * Periodic etcd snapshots to S3 by the admin CLI of the broker image, for managed etcd with
 * backups enabled. It reads the brokers' ConfigMap (etcd endpoints, cluster name, S3 endpoint and
 * region) and runs under the brokers' ServiceAccount, so it has exactly their S3 access.
 */
export function buildSnapshotCronJob(
  cluster: KafScaleCluster,
  options: BuildOptions,
): V1CronJob | undefined {
  const managed = cluster.spec.etcd.endpoints ? undefined : cluster.spec.etcd.managed;
  if (!managed?.backup.enabled) {
    return undefined;
  }
  const names = resourceNames(cluster);
  const { bucket, prefix } = snapshotLocation(cluster);
  const { brokers } = cluster.spec;
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: objectMeta(cluster, names.snapshot, 'etcd-snapshot'),
    spec: {
      schedule: managed.backup.schedule,
      timeZone: 'Etc/UTC',
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: 300,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
      jobTemplate: {
        metadata: { labels: labels(cluster, 'etcd-snapshot') },
        spec: {
          backoffLimit: 2,
          activeDeadlineSeconds: 1800,
          template: {
            metadata: { labels: labels(cluster, 'etcd-snapshot') },
            spec: {
              restartPolicy: 'Never',
              serviceAccountName: names.broker,
              automountServiceAccountToken: false,
              enableServiceLinks: false,
              securityContext: restrictedPodSecurityContext(),
              ...(brokers.imagePullSecrets
                ? { imagePullSecrets: brokers.imagePullSecrets.map((s) => ({ name: s.name })) }
                : {}),
              containers: [
                {
                  name: 'snapshot',
                  image: brokers.image ?? options.brokerImage,
                  imagePullPolicy: brokers.imagePullPolicy,
                  command: [
                    'kafscale',
                    'snapshot',
                    'create',
                    '--bucket',
                    bucket,
                    '--prefix',
                    prefix,
                    '--retention',
                    String(managed.backup.retention),
                  ],
                  envFrom: [{ configMapRef: { name: names.brokerConfig } }],
                  env: brokerSecretEnv(cluster),
                  resources: {
                    requests: { cpu: '50m', memory: '128Mi' },
                    limits: { memory: '512Mi' },
                  },
                  securityContext: restrictedContainerSecurityContext(),
                  volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
                },
              ],
              // The snapshot is staged here before upload; etcd's database is bounded by its quota.
              volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '8Gi' } }],
            },
          },
        },
      },
    },
  };
}
