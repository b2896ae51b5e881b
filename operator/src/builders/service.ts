import type { V1Service, V1ServicePort } from '@kubernetes/client-node';
import type { KafScaleCluster } from '../api/v1alpha1.js';
import { ETCD_CLIENT_PORT, ETCD_PEER_PORT, KAFKA_PORT, METRICS_PORT } from './broker-env.js';
import { objectMeta, resourceNames, selectorLabels } from './metadata.js';

const kafkaPort: V1ServicePort = {
  name: 'kafka',
  port: KAFKA_PORT,
  targetPort: 'kafka',
  protocol: 'TCP',
};

/**
 * Gives every broker pod the DNS name it advertises. Not-ready pods are published because a
 * broker registers (and is named in Metadata) before its readiness probe passes.
 */
export function buildBrokerHeadlessService(cluster: KafScaleCluster): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: objectMeta(cluster, resourceNames(cluster).headless, 'broker'),
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: selectorLabels(cluster, 'broker'),
      ports: [
        kafkaPort,
        { name: 'metrics', port: METRICS_PORT, targetPort: 'metrics', protocol: 'TCP' },
      ],
    },
  };
}

/** The in-cluster bootstrap address (NAME-bootstrap:9092); only ready brokers answer. */
export function buildBootstrapService(cluster: KafScaleCluster): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: objectMeta(cluster, resourceNames(cluster).bootstrap, 'broker'),
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(cluster, 'broker'),
      ports: [kafkaPort],
    },
  };
}

/** The NodePort or LoadBalancer Service of brokers.service; none for ClusterIP. */
export function buildExternalService(cluster: KafScaleCluster): V1Service | undefined {
  const { service, advertisedPort } = cluster.spec.brokers;
  if (service.type === 'ClusterIP') {
    return undefined;
  }
  const port: V1ServicePort = { ...kafkaPort, port: advertisedPort ?? KAFKA_PORT };
  if (service.nodePorts?.kafka !== undefined) {
    port.nodePort = service.nodePorts.kafka;
  }
  const svc: V1Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: objectMeta(cluster, resourceNames(cluster).external, 'broker', service.annotations),
    spec: {
      type: service.type,
      selector: selectorLabels(cluster, 'broker'),
      ports: [port],
    },
  };
  if (service.externalTrafficPolicy) {
    svc.spec!.externalTrafficPolicy = service.externalTrafficPolicy;
  }
  if (service.type === 'LoadBalancer' && service.loadBalancerSourceRanges) {
    svc.spec!.loadBalancerSourceRanges = service.loadBalancerSourceRanges;
  }
  return svc;
}

/** Stable member names for the managed etcd's peer URLs; published before members are ready. */
export function buildEtcdHeadlessService(cluster: KafScaleCluster): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: objectMeta(cluster, resourceNames(cluster).etcd, 'etcd'),
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: selectorLabels(cluster, 'etcd'),
      ports: [
        { name: 'client', port: ETCD_CLIENT_PORT, targetPort: 'client', protocol: 'TCP' },
        { name: 'peer', port: ETCD_PEER_PORT, targetPort: 'peer', protocol: 'TCP' },
      ],
    },
  };
}

/** One address for tools such as etcdctl; brokers list the members themselves. */
export function buildEtcdClientService(cluster: KafScaleCluster): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: objectMeta(cluster, resourceNames(cluster).etcdClient, 'etcd'),
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(cluster, 'etcd'),
      ports: [{ name: 'client', port: ETCD_CLIENT_PORT, targetPort: 'client', protocol: 'TCP' }],
    },
  };
}
