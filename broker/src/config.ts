// Broker configuration, from KAFSCALE_* environment variables only (what the container runs).
// Every variable is documented in docs/configuration.md; a bad value stops the broker at start
// with a message naming the variable.

import { isSaslMechanism, SASL_MECHANISMS, type SaslMechanism } from './security/mechanisms.js';

export interface BrokerConfig {
  /** Configured broker id, or null to claim the lowest free id from the metadata store. */
  brokerId: number | null;
  /** TTL of the broker's registration lease: a dead broker's partitions move after this. */
  leaseTtlSec: number;
  /** Address the Kafka listener binds. */
  listenHost: string;
  listenPort: number;
  /** Host and port advertised to clients in Metadata. */
  advertisedHost: string;
  advertisedPort: number;
  rack: string | null;
  clusterName: string;
  dataDir: string;
  s3: {
    bucket: string | null;
    region: string;
    endpoint: string | null;
    pathStyle: boolean;
    kmsKeyArn: string | null;
    /** A replica bucket to read from (e.g. a cross-region replica); writes go to `bucket`. */
    read: { bucket: string | null; region: string | null; endpoint: string | null };
    /** Server-side encryption: SSE-S3 (AES256), SSE-KMS (aws:kms) or none. */
    sse: 'AES256' | 'aws:kms' | null;
    accessKeyId: string | null;
    secretAccessKey: string | null;
    sessionToken: string | null;
    maxConcurrency: number;
  };
  namespace: string;
  etcd: { endpoints: string[]; username: string | null; password: string | null };
  segmentBytes: number;
  flushIntervalMs: number;
  produceSyncFlush: boolean;
  /** One object (one PUT) for all partitions flushed together; compacted per partition later. */
  packSegments: boolean;
  compactBytes: number;
  compactMaxAgeMs: number;
  cacheBytes: number;
  readAheadSegments: number;
  autoCreateTopics: boolean;
  autoCreatePartitions: number;
  allowAdminApis: boolean;
  maxRequestBytes: number;
  retentionCheckIntervalMs: number;
  startupTimeoutSec: number;
  orphanGraceSec: number;
  orphanSweepIntervalSec: number;
  groupInitialRebalanceDelayMs: number;
  groupMinSessionTimeoutMs: number;
  groupMaxSessionTimeoutMs: number;
  /** Metrics and health HTTP listener (/metrics, /healthz, /readyz); null when off. */
  metrics: { host: string; port: number } | null;
  /** Object store health thresholds over a sliding window of every request. */
  s3Health: {
    windowSec: number;
    latencyWarnMs: number;
    latencyCritMs: number;
    errorRateWarn: number;
    errorRateCrit: number;
  };
  /** Bytes appended but not yet committed, across partitions, before produce is refused. */
  produceBufferBytes: number;
  /** TLS on the Kafka listener; the files are re-read every reloadIntervalSec. */
  tls: {
    enabled: boolean;
    certFile: string | null;
    keyFile: string | null;
    /** CA bundle that client certificates must chain to. */
    caFile: string | null;
    clientAuth: 'none' | 'requested' | 'required';
    reloadIntervalSec: number;
  };
  /** SASL on the Kafka listener: required of every connection when enabled. */
  sasl: { enabled: boolean; mechanisms: SaslMechanism[] };
  logLevel: string;
  /** Protocol tracing: one debug log line per Kafka request and per response. */
  traceKafka: boolean;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string, fallback: string): string {
  const v = env[name];
  return v === undefined || v === '' ? fallback : v;
}

function optional(env: Env, name: string): string | null {
  const v = env[name];
  return v === undefined || v === '' ? null : v;
}

function int(
  env: Env,
  name: string,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  if (!/^-?\d+$/.test(v.trim())) throw new ConfigError(`${name} must be an integer, got "${v}"`);
  const n = Number(v);
  if (n < min || n > max)
    throw new ConfigError(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  if (/^(true|1|yes|on)$/i.test(v)) return true;
  if (/^(false|0|no|off)$/i.test(v)) return false;
  throw new ConfigError(`${name} must be true or false, got "${v}"`);
}

function sse(env: Env): 'AES256' | 'aws:kms' | null {
  const v = optional(env, 'KAFSCALE_S3_SSE');
  if (v === null) return optional(env, 'KAFSCALE_S3_KMS_ARN') ? 'aws:kms' : null;
  if (v === 'none') return null;
  if (v === 'AES256' || v === 'aws:kms') return v;
  throw new ConfigError(`KAFSCALE_S3_SSE must be none, AES256 or aws:kms, got "${v}"`);
}

/** "host:port" or ":port". */
function hostPort(env: Env, name: string): { host?: string; port?: number } {
  const v = optional(env, name);
  if (v === null) return {};
  const m = /^(.*):(\d+)$/.exec(v);
  if (!m || Number(m[2]) > 65535) throw new ConfigError(`${name} must be host:port, got "${v}"`);
  return { host: m[1] || undefined, port: Number(m[2]) };
}

function fraction(env: Env, name: string, fallback: number): number {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v.trim());
  if (!/^\d*\.?\d+(e-?\d+)?$/i.test(v.trim()) || !(n > 0 && n <= 1))
    throw new ConfigError(`${name} must be a number in (0, 1], got "${v}"`);
  return n;
}

/** "host:port", ":port", "port" or "off"; an empty or 0 port picks a free one. */
function metricsAddr(env: Env): { host: string; port: number } | null {
  const v = str(env, 'KAFSCALE_METRICS_ADDR', ':9093').trim();
  if (v === 'off') return null;
  const m = /^(?:(\[[^\]]*\]|[^:]*):)?(\d*)$/.exec(v);
  if (!m || Number(m[2]) > 65535)
    throw new ConfigError(`KAFSCALE_METRICS_ADDR must be host:port, :port or off, got "${v}"`);
  const host = (m[1] ?? '').replace(/^\[(.*)\]$/, '$1');
  return { host: host || '0.0.0.0', port: Number(m[2] || 0) };
}

function s3Health(env: Env): BrokerConfig['s3Health'] {
  const health = {
    windowSec: int(env, 'KAFSCALE_S3_HEALTH_WINDOW_SEC', 60, 1, 3600),
    latencyWarnMs: int(env, 'KAFSCALE_S3_LATENCY_WARN_MS', 500, 1, 600_000),
    latencyCritMs: int(env, 'KAFSCALE_S3_LATENCY_CRIT_MS', 2000, 1, 600_000),
    errorRateWarn: fraction(env, 'KAFSCALE_S3_ERROR_RATE_WARN', 0.01),
    errorRateCrit: fraction(env, 'KAFSCALE_S3_ERROR_RATE_CRIT', 0.05),
  };
  if (health.latencyWarnMs >= health.latencyCritMs) {
    throw new ConfigError(
      `KAFSCALE_S3_LATENCY_WARN_MS (${health.latencyWarnMs}) must be below ` +
        `KAFSCALE_S3_LATENCY_CRIT_MS (${health.latencyCritMs})`,
    );
  }
  if (health.errorRateWarn >= health.errorRateCrit) {
    throw new ConfigError(
      `KAFSCALE_S3_ERROR_RATE_WARN (${health.errorRateWarn}) must be below ` +
        `KAFSCALE_S3_ERROR_RATE_CRIT (${health.errorRateCrit})`,
    );
  }
  return health;
}

function listenerTls(env: Env): BrokerConfig['tls'] {
  const clientAuth = str(env, 'KAFSCALE_TLS_CLIENT_AUTH', 'none');
  if (clientAuth !== 'none' && clientAuth !== 'requested' && clientAuth !== 'required') {
    throw new ConfigError(
      `KAFSCALE_TLS_CLIENT_AUTH must be none, requested or required, got "${clientAuth}"`,
    );
  }
  const tls: BrokerConfig['tls'] = {
    enabled: bool(env, 'KAFSCALE_TLS_ENABLED', false),
    certFile: optional(env, 'KAFSCALE_TLS_CERT_FILE'),
    keyFile: optional(env, 'KAFSCALE_TLS_KEY_FILE'),
    caFile: optional(env, 'KAFSCALE_TLS_CA_FILE'),
    clientAuth,
    reloadIntervalSec: int(env, 'KAFSCALE_TLS_RELOAD_INTERVAL_SEC', 30, 1, 86_400),
  };
  if (tls.enabled) {
    if (!tls.certFile) throw new ConfigError('KAFSCALE_TLS_CERT_FILE is required with TLS');
    if (!tls.keyFile) throw new ConfigError('KAFSCALE_TLS_KEY_FILE is required with TLS');
    if (clientAuth !== 'none' && !tls.caFile) {
      throw new ConfigError(`KAFSCALE_TLS_CA_FILE is required with client auth ${clientAuth}`);
    }
  }
  return tls;
}

function sasl(env: Env): BrokerConfig['sasl'] {
  const mechanisms = str(env, 'KAFSCALE_SASL_MECHANISMS', SASL_MECHANISMS.join(','))
    .split(',')
    .map((m) => m.trim().toUpperCase())
    .filter(Boolean);
  for (const m of mechanisms) {
    if (!isSaslMechanism(m)) {
      throw new ConfigError(
        `KAFSCALE_SASL_MECHANISMS may list ${SASL_MECHANISMS.join(', ')}; got "${m}"`,
      );
    }
  }
  if (mechanisms.length === 0) throw new ConfigError('KAFSCALE_SASL_MECHANISMS is empty');
  return {
    enabled: bool(env, 'KAFSCALE_SASL_ENABLED', false),
    mechanisms: [...new Set(mechanisms as SaslMechanism[])],
  };
}

export function loadConfig(env: Env = process.env): BrokerConfig {
  const addr = hostPort(env, 'KAFSCALE_BROKER_ADDR');
  const listenHost = addr.host ?? '127.0.0.1';
  const listenPort = addr.port ?? int(env, 'KAFSCALE_BROKER_PORT', 9092, 0, 65535);
  const advertisedHost = str(
    env,
    'KAFSCALE_BROKER_HOST',
    listenHost === '0.0.0.0' || listenHost === '::' ? '127.0.0.1' : listenHost,
  );
  const etcdEndpoints = (optional(env, 'KAFSCALE_ETCD_ENDPOINTS') ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  for (const e of etcdEndpoints) {
    if (!/^https?:\/\/[^\s/]+(:\d+)?\/?$/.test(e) && !/^[^\s/:]+:\d+$/.test(e)) {
      throw new ConfigError(`KAFSCALE_ETCD_ENDPOINTS has an invalid endpoint "${e}"`);
    }
  }
  const logLevel = str(env, 'KAFSCALE_LOG_LEVEL', 'info');
  if (!['error', 'warn', 'info', 'debug'].includes(logLevel)) {
    throw new ConfigError(
      `KAFSCALE_LOG_LEVEL must be error, warn, info or debug, got "${logLevel}"`,
    );
  }
  const namespace = str(env, 'KAFSCALE_S3_NAMESPACE', 'kafscale');
  if (!/^[a-zA-Z0-9._-]+(\/[a-zA-Z0-9._-]+)*$/.test(namespace)) {
    throw new ConfigError(
      `KAFSCALE_S3_NAMESPACE must be path segments of [a-zA-Z0-9._-], got "${namespace}"`,
    );
  }
  const clusterName = str(env, 'KAFSCALE_CLUSTER_NAME', 'default');
  if (!/^[a-zA-Z0-9._-]+$/.test(clusterName)) {
    throw new ConfigError(`KAFSCALE_CLUSTER_NAME must match [a-zA-Z0-9._-]+, got "${clusterName}"`);
  }
  return {
    brokerId:
      optional(env, 'KAFSCALE_BROKER_ID') === null
        ? null
        : int(env, 'KAFSCALE_BROKER_ID', 0, 0, 0x7fffffff),
    leaseTtlSec: int(env, 'KAFSCALE_LEASE_TTL_SEC', 10, 2, 300),
    listenHost,
    listenPort,
    advertisedHost,
    advertisedPort: int(env, 'KAFSCALE_ADVERTISED_PORT', listenPort, 0, 65535),
    rack: optional(env, 'KAFSCALE_BROKER_RACK'),
    clusterName,
    dataDir: str(env, 'KAFSCALE_DATA_DIR', './data'),
    s3: {
      bucket: optional(env, 'KAFSCALE_S3_BUCKET'),
      region: str(env, 'KAFSCALE_S3_REGION', 'us-east-1'),
      endpoint: optional(env, 'KAFSCALE_S3_ENDPOINT'),
      pathStyle: bool(env, 'KAFSCALE_S3_PATH_STYLE', false),
      kmsKeyArn: optional(env, 'KAFSCALE_S3_KMS_ARN'),
      sse: sse(env),
      read: {
        bucket: optional(env, 'KAFSCALE_S3_READ_BUCKET'),
        region: optional(env, 'KAFSCALE_S3_READ_REGION'),
        endpoint: optional(env, 'KAFSCALE_S3_READ_ENDPOINT'),
      },
      accessKeyId: optional(env, 'KAFSCALE_S3_ACCESS_KEY'),
      secretAccessKey: optional(env, 'KAFSCALE_S3_SECRET_KEY'),
      sessionToken: optional(env, 'KAFSCALE_S3_SESSION_TOKEN'),
      maxConcurrency: int(env, 'KAFSCALE_S3_MAX_CONCURRENCY', 64, 1, 4096),
    },
    namespace,
    etcd: {
      endpoints: etcdEndpoints,
      username: optional(env, 'KAFSCALE_ETCD_USERNAME'),
      password: optional(env, 'KAFSCALE_ETCD_PASSWORD'),
    },
    segmentBytes: int(env, 'KAFSCALE_SEGMENT_BYTES', 4 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    flushIntervalMs: int(env, 'KAFSCALE_FLUSH_INTERVAL_MS', 10, 0, 60_000),
    produceSyncFlush: bool(env, 'KAFSCALE_PRODUCE_SYNC_FLUSH', true),
    packSegments: bool(env, 'KAFSCALE_PACK_SEGMENTS', true),
    compactBytes: int(env, 'KAFSCALE_COMPACT_BYTES', 4 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    compactMaxAgeMs: int(env, 'KAFSCALE_COMPACT_MAX_AGE_MS', 300_000, 0, 3_600_000),
    cacheBytes: int(env, 'KAFSCALE_CACHE_BYTES', 256 * 1024 * 1024, 0),
    readAheadSegments: int(env, 'KAFSCALE_READAHEAD_SEGMENTS', 2, 0, 64),
    autoCreateTopics: bool(env, 'KAFSCALE_AUTO_CREATE_TOPICS', true),
    autoCreatePartitions: int(env, 'KAFSCALE_AUTO_CREATE_PARTITIONS', 1, 1, 100_000),
    allowAdminApis: bool(env, 'KAFSCALE_ALLOW_ADMIN_APIS', true),
    maxRequestBytes: int(
      env,
      'KAFSCALE_MAX_REQUEST_BYTES',
      100 * 1024 * 1024,
      1024,
      1024 * 1024 * 1024,
    ),
    retentionCheckIntervalMs: int(env, 'KAFSCALE_RETENTION_CHECK_INTERVAL_MS', 60_000, 100),
    startupTimeoutSec: int(env, 'KAFSCALE_STARTUP_TIMEOUT_SEC', 60, 1, 3600),
    orphanGraceSec: int(env, 'KAFSCALE_ORPHAN_GRACE_SEC', 3600, 60),
    orphanSweepIntervalSec: int(env, 'KAFSCALE_ORPHAN_SWEEP_INTERVAL_SEC', 600, 1),
    groupInitialRebalanceDelayMs: int(
      env,
      'KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS',
      3000,
      0,
      300_000,
    ),
    groupMinSessionTimeoutMs: int(env, 'KAFSCALE_GROUP_MIN_SESSION_TIMEOUT_MS', 6000, 1, 3_600_000),
    groupMaxSessionTimeoutMs: int(
      env,
      'KAFSCALE_GROUP_MAX_SESSION_TIMEOUT_MS',
      1_800_000,
      1,
      3_600_000,
    ),
    metrics: metricsAddr(env),
    s3Health: s3Health(env),
    produceBufferBytes: int(
      env,
      'KAFSCALE_PRODUCE_BUFFER_BYTES',
      256 * 1024 * 1024,
      1024 * 1024,
      64 * 1024 * 1024 * 1024,
    ),
    tls: listenerTls(env),
    sasl: sasl(env),
    logLevel,
    traceKafka: traceKafka(env),
  };
}

/** KAFSCALE_TRACE_KAFKA; read by the Kafka listener, which may be built without a BrokerConfig. */
export function traceKafka(env: Env = process.env): boolean {
  return bool(env, 'KAFSCALE_TRACE_KAFKA', false);
}
