import type { V1ObjectMeta, V1OwnerReference } from '@kubernetes/client-node';
import { API_VERSION, type KafScaleCluster } from '../api/v1alpha1.js';

export type Component = 'broker' | 'etcd' | 'etcd-snapshot' | 'tls';

/** Names of everything a cluster owns, derived from the cluster's name (at most 38 characters). */
export function resourceNames(cluster: KafScaleCluster) {
  const name = cluster.metadata.name;
  return {
    broker: `${name}-broker`,
    brokerConfig: `${name}-broker-config`,
    headless: `${name}-brokers`,
    bootstrap: `${name}-bootstrap`,
    external: `${name}-external`,
    tlsSecret: `${name}-tls`,
    tlsCaSecret: `${name}-tls-ca`,
    etcd: `${name}-etcd`,
    etcdClient: `${name}-etcd-client`,
    snapshot: `${name}-etcd-snapshot`,
  };
}

/** Metadata keys live under /kafscale/{cluster}/: namespace and name keep clusters apart in one etcd. */
export function metadataClusterName(cluster: KafScaleCluster): string {
  return `${cluster.metadata.namespace}.${cluster.metadata.name}`;
}

export function selectorLabels(
  cluster: KafScaleCluster,
  component: Component,
): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'kafscale',
    'app.kubernetes.io/instance': cluster.metadata.name,
    'app.kubernetes.io/component': component,
  };
}

export function labels(cluster: KafScaleCluster, component: Component): Record<string, string> {
  return {
    ...selectorLabels(cluster, component),
    'app.kubernetes.io/part-of': 'kafscale',
    'app.kubernetes.io/managed-by': 'kafscale-operator',
  };
}

/** `.status.selector` of the cluster: what the scale subresource and the HPA count. */
export function brokerSelector(cluster: KafScaleCluster): string {
  return Object.entries(selectorLabels(cluster, 'broker'))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

export function ownerReference(cluster: KafScaleCluster): V1OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: 'KafScaleCluster',
    name: cluster.metadata.name,
    uid: cluster.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function objectMeta(
  cluster: KafScaleCluster,
  name: string,
  component: Component,
  annotations?: Record<string, string>,
): V1ObjectMeta {
  const meta: V1ObjectMeta = {
    name,
    namespace: cluster.metadata.namespace,
    labels: labels(cluster, component),
    ownerReferences: [ownerReference(cluster)],
  };
  if (annotations && Object.keys(annotations).length > 0) {
    meta.annotations = { ...annotations };
  }
  return meta;
}
