/**
 * TypeScript shapes of the kafscale.io/v1alpha1 resources. The CRD YAML in `crds/` is the
 * source of truth; these types describe objects after the schema's defaults were applied
 * (ResourceValidator.validate returns such objects), which is why defaulted fields are required.
 */

export const GROUP = 'kafscale.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

export type Quantity = string | number;

export interface ObjectMeta {
  name: string;
  namespace: string;
  uid: string;
  generation?: number;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  finalizers?: string[];
}

export interface ResourceRequirements {
  requests?: Record<string, Quantity>;
  limits?: Record<string, Quantity>;
}

export interface SecretNameRef {
  name: string;
}

export interface BrokerService {
  type: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
  annotations?: Record<string, string>;
  loadBalancerSourceRanges?: string[];
  externalTrafficPolicy?: 'Cluster' | 'Local';
  nodePorts?: { kafka?: number };
}

export interface BrokersSpec {
  replicas: number;
  image?: string;
  imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  imagePullSecrets?: SecretNameRef[];
  resources?: ResourceRequirements;
  advertisedHost?: string;
  advertisedPort?: number;
  service: BrokerService;
  affinity?: Record<string, unknown>;
  tolerations?: Record<string, unknown>[];
  nodeSelector?: Record<string, string>;
  topologySpreadConstraints?: Record<string, unknown>[];
  podAnnotations?: Record<string, string>;
  podLabels?: Record<string, string>;
  priorityClassName?: string;
  serviceAccountAnnotations?: Record<string, string>;
  terminationGracePeriodSeconds: number;
}

export interface AutoscalingSpec {
  enabled: boolean;
  minReplicas: number;
  maxReplicas: number;
  targetCPUUtilizationPercentage?: number;
  targetMemoryUtilizationPercentage?: number;
  scaleDownStabilizationSeconds: number;
}

export interface S3Spec {
  bucket: string;
  region: string;
  endpoint?: string;
  pathStyle: boolean;
  namespace: string;
  readBucket?: string;
  readRegion?: string;
  readEndpoint?: string;
  sse?: 'none' | 'AES256' | 'aws:kms';
  kmsKeyArn?: string;
  maxConcurrency?: number;
  credentialsSecretRef?: {
    name: string;
    accessKeyIdKey: string;
    secretAccessKeyKey: string;
    sessionTokenKey?: string;
  };
}

export interface EtcdBackupSpec {
  enabled: boolean;
  bucket?: string;
  prefix: string;
  schedule: string;
  retention: number;
}

export interface ManagedEtcdSpec {
  replicas: 1 | 3 | 5;
  image: string;
  resources?: ResourceRequirements;
  storage: { size: string; storageClassName?: string };
  backup: EtcdBackupSpec;
}

export interface EtcdSpec {
  endpoints?: string[];
  credentialsSecretRef?: { name: string; usernameKey: string; passwordKey: string };
  managed?: ManagedEtcdSpec;
}

export interface TlsSpec {
  enabled: boolean;
  secretRef?: SecretNameRef;
  clientAuth: 'none' | 'requested' | 'required';
}

export type SaslMechanism = 'SCRAM-SHA-512' | 'SCRAM-SHA-256' | 'PLAIN';

export interface SaslSpec {
  enabled: boolean;
  mechanisms?: SaslMechanism[];
}

export interface BrokerConfigSpec {
  segmentBytes?: number;
  flushIntervalMs?: number;
  produceSyncFlush?: boolean;
  cacheSize?: Quantity;
  produceBufferSize?: Quantity;
  readaheadSegments?: number;
  maxRequestBytes?: number;
  leaseTtlSeconds?: number;
  startupTimeoutSeconds?: number;
  retentionCheckIntervalMs?: number;
  autoCreateTopics?: boolean;
  autoCreatePartitions?: number;
  allowAdminApis?: boolean;
  groupInitialRebalanceDelayMs?: number;
  groupMinSessionTimeoutMs?: number;
  groupMaxSessionTimeoutMs?: number;
  orphanSweepIntervalSeconds?: number;
  orphanGraceSeconds?: number;
  tlsReloadIntervalSeconds?: number;
  s3HealthWindowSeconds?: number;
  s3LatencyWarnMs?: number;
  s3LatencyCritMs?: number;
  s3ErrorRateWarn?: string;
  s3ErrorRateCrit?: string;
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
}

export interface KafScaleClusterSpec {
  brokers: BrokersSpec;
  autoscaling: AutoscalingSpec;
  s3: S3Spec;
  etcd: EtcdSpec;
  tls: TlsSpec;
  sasl: SaslSpec;
  config: BrokerConfigSpec;
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export type ClusterConditionType = 'Ready' | 'Progressing' | 'Degraded' | 'EtcdSnapshotAccess';

export interface KafScaleClusterStatus {
  observedGeneration?: number;
  phase?: 'Pending' | 'Provisioning' | 'Running' | 'Degraded' | 'Invalid';
  replicas?: number;
  readyReplicas?: number;
  selector?: string;
  bootstrapServers?: string;
  etcdEndpoints?: string;
  lastSnapshotTime?: string;
  tlsNotAfter?: string;
  conditions?: Condition[];
}

export interface KafScaleCluster {
  apiVersion: typeof API_VERSION;
  kind: 'KafScaleCluster';
  metadata: ObjectMeta;
  spec: KafScaleClusterSpec;
  status?: KafScaleClusterStatus;
}

export interface KafScaleTopicSpec {
  clusterRef: { name: string };
  topicName?: string;
  partitions: number;
  retentionMs?: number;
  retentionBytes?: number;
  config?: Record<string, string>;
}

export interface KafScaleTopicStatus {
  observedGeneration?: number;
  phase?: 'Pending' | 'Ready' | 'Invalid' | 'Error';
  topicName?: string;
  partitions?: number;
  partitionStatus?: {
    partition: number;
    leader?: number;
    logStartOffset?: number;
    highWatermark?: number;
  }[];
  conditions?: Condition[];
}

export interface KafScaleTopic {
  apiVersion: typeof API_VERSION;
  kind: 'KafScaleTopic';
  metadata: ObjectMeta;
  spec: KafScaleTopicSpec;
  status?: KafScaleTopicStatus;
}
