import type { KubernetesObject } from '@kubernetes/client-node';
import type { KafScaleCluster } from '../api/v1alpha1.js';
import { brokerConfigData } from './broker-env.js';
import { configHash } from './config-hash.js';
import { buildBrokerConfigMap } from './configmap.js';
import { buildSnapshotCronJob } from './cronjob.js';
import { buildBrokerDeployment } from './deployment.js';
import { buildBrokerHpa } from './hpa.js';
import type { BuildOptions } from './options.js';
import { buildBrokerPdb, buildEtcdPdb } from './pdb.js';
import { buildTlsCaSecret, buildTlsSecret, type TlsMaterial } from './secret.js';
import { buildBrokerServiceAccount } from './service-account.js';
import {
  buildBootstrapService,
  buildBrokerHeadlessService,
  buildEtcdClientService,
  buildEtcdHeadlessService,
  buildExternalService,
} from './service.js';
import { buildEtcdStatefulSet } from './statefulset.js';

export * from './broker-env.js';
export * from './config-hash.js';
export * from './configmap.js';
export * from './cronjob.js';
export * from './deployment.js';
export * from './hpa.js';
export * from './metadata.js';
export * from './options.js';
export * from './pdb.js';
export * from './quantity.js';
export * from './secret.js';
export * from './service-account.js';
export * from './service.js';
export * from './statefulset.js';

/**
 * Everything a (defaulted, valid) cluster should own, in the order to apply it: identities and
 * configuration first, then etcd, then the brokers that need both. `tls` is the generated
 * material when TLS is on without a user Secret; without it no TLS Secret is built.
 */
export function buildClusterObjects(
  cluster: KafScaleCluster,
  options: BuildOptions,
  tls?: TlsMaterial,
): KubernetesObject[] {
  const objects: (KubernetesObject | undefined)[] = [
    buildBrokerServiceAccount(cluster),
    buildBrokerConfigMap(cluster, options),
  ];
  if (cluster.spec.tls.enabled && !cluster.spec.tls.secretRef && tls) {
    objects.push(buildTlsCaSecret(cluster, tls), buildTlsSecret(cluster, options, tls));
  }
  const etcd = buildEtcdStatefulSet(cluster, options);
  if (etcd) {
    objects.push(
      buildEtcdHeadlessService(cluster),
      buildEtcdClientService(cluster),
      buildEtcdPdb(cluster),
      etcd,
    );
  }
  objects.push(
    buildBrokerHeadlessService(cluster),
    buildBootstrapService(cluster),
    buildExternalService(cluster),
    buildBrokerDeployment(cluster, options, configHash(brokerConfigData(cluster, options))),
    buildBrokerHpa(cluster),
    buildBrokerPdb(cluster),
    buildSnapshotCronJob(cluster, options),
  );
  return objects.filter((o): o is KubernetesObject => o !== undefined);
}
