import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { KafScaleCluster } from '../api/v1alpha1.js';
import { objectMeta, resourceNames, selectorLabels } from './metadata.js';

/** Drains take brokers one at a time, so each hand-off completes before the next starts. */
export function buildBrokerPdb(cluster: KafScaleCluster): V1PodDisruptionBudget {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: objectMeta(cluster, resourceNames(cluster).broker, 'broker'),
    spec: {
      maxUnavailable: 1,
      selector: { matchLabels: selectorLabels(cluster, 'broker') },
    },
  };
}

/** One etcd member down at a time keeps quorum for 3 and 5 members. */
export function buildEtcdPdb(cluster: KafScaleCluster): V1PodDisruptionBudget {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: objectMeta(cluster, resourceNames(cluster).etcd, 'etcd'),
    spec: {
      maxUnavailable: 1,
      selector: { matchLabels: selectorLabels(cluster, 'etcd') },
    },
  };
}
