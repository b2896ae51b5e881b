import type { V1EnvVar } from '@kubernetes/client-node';
import type { KafScaleCluster } from '../api/v1alpha1.js';
import { metadataClusterName, resourceNames } from './metadata.js';
import type { BuildOptions } from './options.js';
import { quantityToBytes } from './quantity.js';

export const KAFKA_PORT = 9092;
export const METRICS_PORT = 9093;
export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;
export const ETCD_METRICS_PORT = 2381;
export const DATA_DIR = '/var/lib/kafscale';
export const TLS_DIR = '/etc/kafscale/tls';

/** Client URLs of the cluster's etcd: the given endpoints, or every managed member by DNS name. */
export function etcdEndpoints(cluster: KafScaleCluster, options: BuildOptions): string[] {
  const { endpoints, managed } = cluster.spec.etcd;
  if (endpoints) {
    return endpoints;
  }
  const names = resourceNames(cluster);
  const replicas = managed?.replicas ?? 3;
  const domain = `${names.etcd}.${cluster.metadata.namespace}.svc.${options.clusterDomain}`;
  return Array.from(
    { length: replicas },
    (_, i) => `http://${names.etcd}-${i}.${domain}:${ETCD_CLIENT_PORT}`,
  );
}

/** Suffix of the per-pod DNS names under the headless Service that brokers advertise. */
export function brokerDnsSuffix(cluster: KafScaleCluster, options: BuildOptions): string {
  const names = resourceNames(cluster);
  return `${names.headless}.${cluster.metadata.namespace}.svc.${options.clusterDomain}`;
}

/**
 * The broker's non-secret KAFSCALE_* settings (the ConfigMap's data, read through envFrom). Fields
 * the spec leaves unset are left out so the broker's documented defaults apply.
 */
export function brokerConfigData(
  cluster: KafScaleCluster,
  options: BuildOptions,
): Record<string, string> {
  const { brokers, s3, tls, sasl, config } = cluster.spec;
  const env: Record<string, string | number | boolean | undefined> = {
    KAFSCALE_BROKER_ADDR: `0.0.0.0:${KAFKA_PORT}`,
    KAFSCALE_METRICS_ADDR: `0.0.0.0:${METRICS_PORT}`,
    KAFSCALE_DATA_DIR: DATA_DIR,
    KAFSCALE_CLUSTER_NAME: metadataClusterName(cluster),
    KAFSCALE_BROKER_HOST: brokers.advertisedHost,
    KAFSCALE_ADVERTISED_PORT: brokers.advertisedPort,
    KAFSCALE_ETCD_ENDPOINTS: etcdEndpoints(cluster, options).join(','),
    KAFSCALE_S3_BUCKET: s3.bucket,
    KAFSCALE_S3_REGION: s3.region,
    KAFSCALE_S3_ENDPOINT: s3.endpoint,
    KAFSCALE_S3_PATH_STYLE: s3.pathStyle,
    KAFSCALE_S3_NAMESPACE: s3.namespace,
    KAFSCALE_S3_READ_BUCKET: s3.readBucket,
    KAFSCALE_S3_READ_REGION: s3.readRegion,
    KAFSCALE_S3_READ_ENDPOINT: s3.readEndpoint,
    KAFSCALE_S3_SSE: s3.sse,
    KAFSCALE_S3_KMS_ARN: s3.kmsKeyArn,
    KAFSCALE_S3_MAX_CONCURRENCY: s3.maxConcurrency,
    KAFSCALE_SEGMENT_BYTES: config.segmentBytes,
    KAFSCALE_FLUSH_INTERVAL_MS: config.flushIntervalMs,
    KAFSCALE_PRODUCE_SYNC_FLUSH: config.produceSyncFlush,
    KAFSCALE_CACHE_BYTES:
      config.cacheSize === undefined ? undefined : quantityToBytes(config.cacheSize),
    KAFSCALE_PRODUCE_BUFFER_BYTES:
      config.produceBufferSize === undefined
        ? undefined
        : quantityToBytes(config.produceBufferSize),
    KAFSCALE_READAHEAD_SEGMENTS: config.readaheadSegments,
    KAFSCALE_MAX_REQUEST_BYTES: config.maxRequestBytes,
    KAFSCALE_LEASE_TTL_SEC: config.leaseTtlSeconds,
    KAFSCALE_STARTUP_TIMEOUT_SEC: config.startupTimeoutSeconds,
    KAFSCALE_RETENTION_CHECK_INTERVAL_MS: config.retentionCheckIntervalMs,
    KAFSCALE_AUTO_CREATE_TOPICS: config.autoCreateTopics,
    KAFSCALE_AUTO_CREATE_PARTITIONS: config.autoCreatePartitions,
    KAFSCALE_ALLOW_ADMIN_APIS: config.allowAdminApis,
    KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS: config.groupInitialRebalanceDelayMs,
    KAFSCALE_GROUP_MIN_SESSION_TIMEOUT_MS: config.groupMinSessionTimeoutMs,
    KAFSCALE_GROUP_MAX_SESSION_TIMEOUT_MS: config.groupMaxSessionTimeoutMs,
    KAFSCALE_ORPHAN_SWEEP_INTERVAL_SEC: config.orphanSweepIntervalSeconds,
    KAFSCALE_ORPHAN_GRACE_SEC: config.orphanGraceSeconds,
    KAFSCALE_S3_HEALTH_WINDOW_SEC: config.s3HealthWindowSeconds,
    KAFSCALE_S3_LATENCY_WARN_MS: config.s3LatencyWarnMs,
    KAFSCALE_S3_LATENCY_CRIT_MS: config.s3LatencyCritMs,
    KAFSCALE_S3_ERROR_RATE_WARN: config.s3ErrorRateWarn,
    KAFSCALE_S3_ERROR_RATE_CRIT: config.s3ErrorRateCrit,
    KAFSCALE_LOG_LEVEL: config.logLevel,
    KAFSCALE_TLS_ENABLED: tls.enabled,
    KAFSCALE_SASL_ENABLED: sasl.enabled,
  };
  if (tls.enabled) {
    Object.assign(env, {
      KAFSCALE_TLS_CERT_FILE: `${TLS_DIR}/tls.crt`,
      KAFSCALE_TLS_KEY_FILE: `${TLS_DIR}/tls.key`,
      KAFSCALE_TLS_CA_FILE: tls.clientAuth === 'none' ? undefined : `${TLS_DIR}/ca.crt`,
      KAFSCALE_TLS_CLIENT_AUTH: tls.clientAuth,
      KAFSCALE_TLS_RELOAD_INTERVAL_SEC: config.tlsReloadIntervalSeconds,
    });
  }
  if (sasl.enabled && sasl.mechanisms) {
    env.KAFSCALE_SASL_MECHANISMS = sasl.mechanisms.join(',');
  }
  const data: Record<string, string> = {};
  for (const key of Object.keys(env).sort()) {
    const value = env[key];
    if (value !== undefined) {
      data[key] = String(value);
    }
  }
  return data;
}

function secretEnv(name: string, secret: string, key: string, optional = false): V1EnvVar {
  return {
    name,
    valueFrom: { secretKeyRef: { name: secret, key, ...(optional ? { optional } : {}) } },
  };
}

/** Credentials, read from the user's Secrets by reference so they never land in the ConfigMap. */
export function brokerSecretEnv(cluster: KafScaleCluster): V1EnvVar[] {
  const env: V1EnvVar[] = [];
  const s3 = cluster.spec.s3.credentialsSecretRef;
  if (s3) {
    env.push(secretEnv('KAFSCALE_S3_ACCESS_KEY', s3.name, s3.accessKeyIdKey));
    env.push(secretEnv('KAFSCALE_S3_SECRET_KEY', s3.name, s3.secretAccessKeyKey));
    if (s3.sessionTokenKey) {
      env.push(secretEnv('KAFSCALE_S3_SESSION_TOKEN', s3.name, s3.sessionTokenKey, true));
    }
  }
  const etcd = cluster.spec.etcd.credentialsSecretRef;
  if (etcd) {
    env.push(secretEnv('KAFSCALE_ETCD_USERNAME', etcd.name, etcd.usernameKey));
    env.push(secretEnv('KAFSCALE_ETCD_PASSWORD', etcd.name, etcd.passwordKey));
  }
  return env;
}
