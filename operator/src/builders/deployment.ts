import type {
  V1Affinity,
  V1Container,
  V1Deployment,
  V1EnvVar,
  V1PodSpec,
  V1Toleration,
  V1TopologySpreadConstraint,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import type { KafScaleCluster } from '../api/v1alpha1.js';
import {
  brokerDnsSuffix,
  brokerSecretEnv,
  DATA_DIR,
  KAFKA_PORT,
  METRICS_PORT,
  TLS_DIR,
} from './broker-env.js';
import { CONFIG_HASH_ANNOTATION } from './config-hash.js';
import { labels, objectMeta, resourceNames, selectorLabels } from './metadata.js';
import type { BuildOptions } from './options.js';
import { normalizeResources } from './quantity.js';
import {
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
} from './pod-security.js';

/** Seconds endpoints and load balancers get to stop sending new connections before SIGTERM. */
const PRE_STOP_SLEEP_SECONDS = 5;

/**
 * The start command. Pods of a Deployment have no stable name, so each broker advertises the DNS
 * name Kubernetes gives its IP under the headless Service (dots and colons become dashes); unlike
 * a bare IP it is covered by the wildcard of the generated TLS certificate.
 */
function startScript(cluster: KafScaleCluster, options: BuildOptions): string {
  if (cluster.spec.brokers.advertisedHost) {
    return 'exec kafscale-broker';
  }
  return [
    `KAFSCALE_BROKER_HOST="$(printf '%s' "$POD_IP" | tr '.:' '--').${brokerDnsSuffix(cluster, options)}"`,
    'export KAFSCALE_BROKER_HOST',
    'exec kafscale-broker',
  ].join('\n');
}

export function brokerTlsSecretName(cluster: KafScaleCluster): string | undefined {
  const { tls } = cluster.spec;
  if (!tls.enabled) {
    return undefined;
  }
  return tls.secretRef?.name ?? resourceNames(cluster).tlsSecret;
}

/** Startup waits for etcd and S3 (KAFSCALE_STARTUP_TIMEOUT_SEC) before the broker listens. */
function startupFailureThreshold(cluster: KafScaleCluster): number {
  const timeout = cluster.spec.config.startupTimeoutSeconds ?? 60;
  return Math.ceil((timeout + 30) / 5);
}

function brokerContainer(cluster: KafScaleCluster, options: BuildOptions): V1Container {
  const names = resourceNames(cluster);
  const { brokers } = cluster.spec;
  const env: V1EnvVar[] = [
    { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
    ...brokerSecretEnv(cluster),
  ];
  const mounts: V1VolumeMount[] = [
    { name: 'data', mountPath: DATA_DIR },
    { name: 'tmp', mountPath: '/tmp' },
  ];
  if (brokerTlsSecretName(cluster)) {
    mounts.push({ name: 'tls', mountPath: TLS_DIR, readOnly: true });
  }
  const container: V1Container = {
    name: 'broker',
    image: brokers.image ?? options.brokerImage,
    imagePullPolicy: brokers.imagePullPolicy,
    command: ['/bin/sh', '-c', startScript(cluster, options)],
    ports: [
      { name: 'kafka', containerPort: KAFKA_PORT, protocol: 'TCP' },
      { name: 'metrics', containerPort: METRICS_PORT, protocol: 'TCP' },
    ],
    envFrom: [{ configMapRef: { name: names.brokerConfig } }],
    env,
    startupProbe: {
      httpGet: { path: '/healthz', port: 'metrics' },
      periodSeconds: 5,
      failureThreshold: startupFailureThreshold(cluster),
    },
    readinessProbe: {
      httpGet: { path: '/readyz', port: 'metrics' },
      periodSeconds: 5,
      timeoutSeconds: 3,
      failureThreshold: 2,
    },
    livenessProbe: {
      httpGet: { path: '/healthz', port: 'metrics' },
      periodSeconds: 10,
      timeoutSeconds: 5,
      failureThreshold: 3,
    },
    lifecycle: {
      preStop: { exec: { command: ['sleep', String(PRE_STOP_SLEEP_SECONDS)] } },
    },
    securityContext: restrictedContainerSecurityContext(),
    volumeMounts: mounts,
  };
  if (brokers.resources) {
    container.resources = normalizeResources(brokers.resources);
  }
  return container;
}

function defaultAffinity(cluster: KafScaleCluster): V1Affinity {
  return {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 100,
          podAffinityTerm: {
            topologyKey: 'kubernetes.io/hostname',
            labelSelector: { matchLabels: selectorLabels(cluster, 'broker') },
          },
        },
      ],
    },
  };
}

function brokerVolumes(cluster: KafScaleCluster): V1Volume[] {
  // The data dir holds nothing durable in S3 mode, but the root filesystem is read-only.
  const volumes: V1Volume[] = [
    { name: 'data', emptyDir: {} },
    { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
  ];
  const tlsSecret = brokerTlsSecretName(cluster);
  if (tlsSecret) {
    volumes.push({ name: 'tls', secret: { secretName: tlsSecret, defaultMode: 0o440 } });
  }
  return volumes;
}

/** Broker pods. `replicas` is left out while autoscaling is on: the HPA owns it then. */
export function buildBrokerDeployment(
  cluster: KafScaleCluster,
  options: BuildOptions,
  configHash: string,
): V1Deployment {
  const names = resourceNames(cluster);
  const { brokers, autoscaling } = cluster.spec;
  const podSpec: V1PodSpec = {
    serviceAccountName: names.broker,
    automountServiceAccountToken: false,
    // Service links would inject variables such as KAFSCALE_BROKER_PORT=tcp://... for a Service
    // named kafscale-broker, which the broker would read as its own configuration.
    enableServiceLinks: false,
    terminationGracePeriodSeconds: brokers.terminationGracePeriodSeconds,
    securityContext: restrictedPodSecurityContext(),
    affinity: (brokers.affinity as V1Affinity | undefined) ?? defaultAffinity(cluster),
    containers: [brokerContainer(cluster, options)],
    volumes: brokerVolumes(cluster),
  };
  if (brokers.tolerations) {
    podSpec.tolerations = brokers.tolerations as V1Toleration[];
  }
  if (brokers.nodeSelector) {
    podSpec.nodeSelector = brokers.nodeSelector;
  }
  if (brokers.topologySpreadConstraints) {
    podSpec.topologySpreadConstraints = brokers.topologySpreadConstraints.map((c) => ({
      labelSelector: { matchLabels: selectorLabels(cluster, 'broker') },
      ...(c as unknown as V1TopologySpreadConstraint),
    }));
  }
  if (brokers.priorityClassName) {
    podSpec.priorityClassName = brokers.priorityClassName;
  }
  if (brokers.imagePullSecrets) {
    podSpec.imagePullSecrets = brokers.imagePullSecrets.map((s) => ({ name: s.name }));
  }
  const deployment: V1Deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: objectMeta(cluster, names.broker, 'broker'),
    spec: {
      replicas: autoscaling.enabled ? undefined : brokers.replicas,
      revisionHistoryLimit: 5,
      selector: { matchLabels: selectorLabels(cluster, 'broker') },
      // A new broker registers before an old one hands off: capacity never dips during a roll.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: {
          labels: { ...brokers.podLabels, ...labels(cluster, 'broker') },
          annotations: { ...brokers.podAnnotations, [CONFIG_HASH_ANNOTATION]: configHash },
        },
        spec: podSpec,
      },
    },
  };
  if (deployment.spec!.replicas === undefined) {
    delete deployment.spec!.replicas;
  }
  return deployment;
}
