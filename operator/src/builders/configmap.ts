import type { V1ConfigMap } from '@kubernetes/client-node';
import type { KafScaleCluster } from '../api/v1alpha1.js';
import { brokerConfigData } from './broker-env.js';
import { objectMeta, resourceNames } from './metadata.js';
import type { BuildOptions } from './options.js';

/** The brokers' environment; the snapshot job reads the same one. */
export function buildBrokerConfigMap(cluster: KafScaleCluster, options: BuildOptions): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: objectMeta(cluster, resourceNames(cluster).brokerConfig, 'broker'),
    data: brokerConfigData(cluster, options),
  };
}
