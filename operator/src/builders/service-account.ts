import type { V1ServiceAccount } from '@kubernetes/client-node';
import type { KafScaleCluster } from '../api/v1alpha1.js';
import { objectMeta, resourceNames } from './metadata.js';

/**
 * Identity of the brokers and the snapshot job towards S3 (IRSA or pod identity annotations).
 * Neither talks to the Kubernetes API, so no token is mounted.
 */
export function buildBrokerServiceAccount(cluster: KafScaleCluster): V1ServiceAccount {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: objectMeta(
      cluster,
      resourceNames(cluster).broker,
      'broker',
      cluster.spec.brokers.serviceAccountAnnotations,
    ),
    automountServiceAccountToken: false,
  };
}
