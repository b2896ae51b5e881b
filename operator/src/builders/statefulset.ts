import type { V1StatefulSet } from '@kubernetes/client-node';
import type { KafScaleCluster, ManagedEtcdSpec } from '../api/v1alpha1.js';
import { ETCD_CLIENT_PORT, ETCD_METRICS_PORT, ETCD_PEER_PORT } from './broker-env.js';
import { labels, objectMeta, resourceNames, selectorLabels } from './metadata.js';
import type { BuildOptions } from './options.js';
import { normalizeResources } from './quantity.js';
import {
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
} from './pod-security.js';

const ETCD_DATA = '/var/lib/etcd';

/** The managed etcd (when spec.etcd.endpoints is unset), or undefined. */
export function managedEtcd(cluster: KafScaleCluster): ManagedEtcdSpec | undefined {
  if (cluster.spec.etcd.endpoints) {
    return undefined;
  }
  return (
    cluster.spec.etcd.managed ?? {
      replicas: 3,
      image: 'quay.io/coreos/etcd:v3.5.21',
      storage: { size: '10Gi' },
      backup: { enabled: false, prefix: 'etcd-snapshots', schedule: '0 * * * *', retention: 24 },
    }
  );
}

/**
 * The managed etcd: a static-membership cluster bootstrapped from the headless Service's names.
 * Members start in parallel because none becomes ready before a quorum has formed.
 */
export function buildEtcdStatefulSet(
  cluster: KafScaleCluster,
  options: BuildOptions,
): V1StatefulSet | undefined {
  const etcd = managedEtcd(cluster);
  if (!etcd) {
    return undefined;
  }
  const names = resourceNames(cluster);
  const domain = `${names.etcd}.${cluster.metadata.namespace}.svc.${options.clusterDomain}`;
  const initialCluster = Array.from(
    { length: etcd.replicas },
    (_, i) => `${names.etcd}-${i}=http://${names.etcd}-${i}.${domain}:${ETCD_PEER_PORT}`,
  ).join(',');
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: objectMeta(cluster, names.etcd, 'etcd'),
    spec: {
      serviceName: names.etcd,
      replicas: etcd.replicas,
      podManagementPolicy: 'Parallel',
      updateStrategy: { type: 'RollingUpdate' },
      selector: { matchLabels: selectorLabels(cluster, 'etcd') },
      // Deleting the cluster keeps the metadata volumes: they index every segment in the bucket.
      persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
      template: {
        metadata: { labels: labels(cluster, 'etcd') },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 30,
          securityContext: restrictedPodSecurityContext(),
          affinity: {
            podAntiAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [
                {
                  weight: 100,
                  podAffinityTerm: {
                    topologyKey: 'kubernetes.io/hostname',
                    labelSelector: { matchLabels: selectorLabels(cluster, 'etcd') },
                  },
                },
              ],
            },
          },
          containers: [
            {
              name: 'etcd',
              image: etcd.image,
              imagePullPolicy: 'IfNotPresent',
              command: ['/usr/local/bin/etcd'],
              args: [
                '--name=$(POD_NAME)',
                `--data-dir=${ETCD_DATA}/data`,
                `--listen-client-urls=http://0.0.0.0:${ETCD_CLIENT_PORT}`,
                `--listen-peer-urls=http://0.0.0.0:${ETCD_PEER_PORT}`,
                `--listen-metrics-urls=http://0.0.0.0:${ETCD_METRICS_PORT}`,
                `--advertise-client-urls=http://$(POD_NAME).${domain}:${ETCD_CLIENT_PORT}`,
                `--initial-advertise-peer-urls=http://$(POD_NAME).${domain}:${ETCD_PEER_PORT}`,
                `--initial-cluster=${initialCluster}`,
                '--initial-cluster-state=new',
                `--initial-cluster-token=${cluster.metadata.uid}`,
                '--auto-compaction-mode=periodic',
                '--auto-compaction-retention=1h',
              ],
              env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
              ports: [
                { name: 'client', containerPort: ETCD_CLIENT_PORT, protocol: 'TCP' },
                { name: 'peer', containerPort: ETCD_PEER_PORT, protocol: 'TCP' },
                { name: 'metrics', containerPort: ETCD_METRICS_PORT, protocol: 'TCP' },
              ],
              // /livez and /readyz judge this member, not quorum: losing quorum must not restart
              // every member at once.
              startupProbe: {
                httpGet: { path: '/livez', port: 'metrics' },
                periodSeconds: 5,
                failureThreshold: 60,
              },
              livenessProbe: {
                httpGet: { path: '/livez', port: 'metrics' },
                periodSeconds: 10,
                timeoutSeconds: 5,
                failureThreshold: 3,
              },
              readinessProbe: {
                httpGet: { path: '/readyz', port: 'metrics' },
                periodSeconds: 5,
                timeoutSeconds: 3,
              },
              ...(etcd.resources ? { resources: normalizeResources(etcd.resources) } : {}),
              securityContext: restrictedContainerSecurityContext(),
              volumeMounts: [{ name: 'data', mountPath: ETCD_DATA }],
            },
          ],
        },
      },
      volumeClaimTemplates: [
        {
          apiVersion: 'v1',
          kind: 'PersistentVolumeClaim',
          metadata: { name: 'data', labels: labels(cluster, 'etcd') },
          spec: {
            accessModes: ['ReadWriteOnce'],
            ...(etcd.storage.storageClassName
              ? { storageClassName: etcd.storage.storageClassName }
              : {}),
            resources: { requests: { storage: etcd.storage.size } },
          },
        },
      ],
    },
  };
}
