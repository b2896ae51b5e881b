/**
 * Validates manifests against the Kubernetes API types as @kubernetes/client-node generates them
 * from the Kubernetes OpenAPI document: every field must exist on its type (what
 * `kubectl --validate=strict` checks), every value must have the field's type, and the required
 * fields and enums below (from the same OpenAPI document, which the generated models do not
 * carry) must hold.
 */
import * as k8s from '@kubernetes/client-node';

interface Attribute {
  name: string;
  baseName: string;
  type: string;
  format: string;
}

type Model = { getAttributeTypeMap(): Attribute[] };

const KINDS: Record<string, string> = {
  'v1/ConfigMap': 'V1ConfigMap',
  'v1/Secret': 'V1Secret',
  'v1/Service': 'V1Service',
  'v1/ServiceAccount': 'V1ServiceAccount',
  'v1/Namespace': 'V1Namespace',
  'apps/v1/Deployment': 'V1Deployment',
  'apps/v1/StatefulSet': 'V1StatefulSet',
  'batch/v1/CronJob': 'V1CronJob',
  'policy/v1/PodDisruptionBudget': 'V1PodDisruptionBudget',
  'autoscaling/v2/HorizontalPodAutoscaler': 'V2HorizontalPodAutoscaler',
  'rbac.authorization.k8s.io/v1/ClusterRole': 'V1ClusterRole',
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': 'V1ClusterRoleBinding',
  'rbac.authorization.k8s.io/v1/Role': 'V1Role',
  'rbac.authorization.k8s.io/v1/RoleBinding': 'V1RoleBinding',
  'apiextensions.k8s.io/v1/CustomResourceDefinition': 'V1CustomResourceDefinition',
};

const REQUIRED: Record<string, string[]> = {
  V1ObjectMeta: [],
  V1Container: ['name'],
  V1ContainerPort: ['containerPort'],
  V1EnvVar: ['name'],
  V1Volume: ['name'],
  V1VolumeMount: ['name', 'mountPath'],
  V1ServicePort: ['port'],
  V1PodSpec: ['containers'],
  V1DeploymentSpec: ['selector', 'template'],
  V1StatefulSetSpec: ['selector', 'template'],
  V1CronJobSpec: ['schedule', 'jobTemplate'],
  V1JobSpec: ['template'],
  V2HorizontalPodAutoscalerSpec: ['scaleTargetRef', 'maxReplicas'],
  V2CrossVersionObjectReference: ['kind', 'name'],
  V2MetricSpec: ['type'],
  V2ResourceMetricSource: ['name', 'target'],
  V2MetricTarget: ['type'],
  V2HPAScalingPolicy: ['type', 'value', 'periodSeconds'],
  V1OwnerReference: ['apiVersion', 'kind', 'name', 'uid'],
  V1SecretKeySelector: ['key'],
  V1ObjectFieldSelector: ['fieldPath'],
  V1HTTPGetAction: ['port'],
  V1WeightedPodAffinityTerm: ['weight', 'podAffinityTerm'],
  V1PodAffinityTerm: ['topologyKey'],
  V1SeccompProfile: ['type'],
  V1TopologySpreadConstraint: ['maxSkew', 'topologyKey', 'whenUnsatisfiable'],
  V1PolicyRule: ['verbs'],
  V1RoleRef: ['apiGroup', 'kind', 'name'],
  RbacV1Subject: ['kind', 'name'],
  V1CustomResourceDefinitionSpec: ['group', 'names', 'scope', 'versions'],
  V1CustomResourceDefinitionNames: ['kind', 'plural'],
  V1CustomResourceDefinitionVersion: ['name', 'served', 'storage'],
  V1CustomResourceColumnDefinition: ['jsonPath', 'name', 'type'],
  V1ValidationRule: ['rule'],
  V1CustomResourceSubresourceScale: ['specReplicasPath', 'statusReplicasPath'],
  V1LabelSelectorRequirement: ['key', 'operator'],
  V1KeyToPath: ['key', 'path'],
};

const ENUMS: Record<string, Record<string, string[]>> = {
  V1ContainerPort: { protocol: ['TCP', 'UDP', 'SCTP'] },
  V1ServicePort: { protocol: ['TCP', 'UDP', 'SCTP'] },
  V1Container: { imagePullPolicy: ['Always', 'IfNotPresent', 'Never'] },
  V1ServiceSpec: {
    type: ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'],
    externalTrafficPolicy: ['Cluster', 'Local'],
  },
  V1PodSpec: { restartPolicy: ['Always', 'OnFailure', 'Never'] },
  V1CronJobSpec: { concurrencyPolicy: ['Allow', 'Forbid', 'Replace'] },
  V1SeccompProfile: { type: ['RuntimeDefault', 'Unconfined', 'Localhost'] },
  V2MetricSpec: { type: ['ContainerResource', 'External', 'Object', 'Pods', 'Resource'] },
  V2MetricTarget: { type: ['AverageValue', 'Utilization', 'Value'] },
  V1DeploymentStrategy: { type: ['Recreate', 'RollingUpdate'] },
  V1StatefulSetSpec: { podManagementPolicy: ['OrderedReady', 'Parallel'] },
  V1StatefulSetPersistentVolumeClaimRetentionPolicy: {
    whenDeleted: ['Retain', 'Delete'],
    whenScaled: ['Retain', 'Delete'],
  },
};

const QUANTITY = /^[+-]?(\d+(\.\d*)?|\.\d+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?$/;

function model(name: string): Model | undefined {
  const m = (k8s as unknown as Record<string, unknown>)[name] as Model | undefined;
  return m && typeof m.getAttributeTypeMap === 'function' ? m : undefined;
}

function check(value: unknown, type: string, format: string, path: string, errors: string[]): void {
  const fail = (what: string) => errors.push(`${path}: ${what}, got ${JSON.stringify(value)}`);
  if (type === 'any') {
    return;
  }
  if (type === 'string') {
    if (typeof value !== 'string') {
      fail('expected string');
    } else if (format === 'byte' && !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) {
      fail('expected base64');
    }
    return;
  }
  if (type === 'number') {
    if (
      typeof value !== 'number' ||
      ((format === 'int32' || format === 'int64') && !Number.isInteger(value))
    ) {
      fail(`expected ${format || 'number'}`);
    }
    return;
  }
  if (type === 'boolean') {
    if (typeof value !== 'boolean') fail('expected boolean');
    return;
  }
  if (type === 'Date') {
    if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) fail('expected date-time');
    return;
  }
  if (type === 'IntOrString') {
    if (!(typeof value === 'string' || Number.isInteger(value))) fail('expected int-or-string');
    return;
  }
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (!Array.isArray(value)) {
      fail('expected array');
      return;
    }
    value.forEach((v, i) => check(v, array[1], '', `${path}[${i}]`, errors));
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      fail('expected map');
      return;
    }
    for (const [k, v] of Object.entries(value)) {
      check(v, map[1], '', `${path}.${k}`, errors);
    }
    return;
  }
  const m = model(type);
  if (!m) {
    errors.push(`${path}: unknown type ${type}`);
    return;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(`expected ${type}`);
    return;
  }
  const attrs = new Map(m.getAttributeTypeMap().map((a) => [a.baseName, a]));
  const obj = value as Record<string, unknown>;
  for (const [key, v] of Object.entries(obj)) {
    const attr = attrs.get(key);
    if (!attr) {
      errors.push(`${path}: unknown field "${key}" in ${type}`);
      continue;
    }
    check(v, attr.type, attr.format, `${path}.${key}`, errors);
    const allowed = ENUMS[type]?.[key];
    if (allowed && !allowed.includes(v as string)) {
      errors.push(`${path}.${key}: must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
    }
  }
  for (const key of REQUIRED[type] ?? []) {
    if (obj[key] === undefined) {
      errors.push(`${path}.${key}: required in ${type}`);
    }
  }
  // Quantities are strings in the generated models; the API server also parses them.
  if (type === 'V1ResourceRequirements' || type === 'V1VolumeResourceRequirements') {
    for (const group of ['requests', 'limits'] as const) {
      for (const [k, q] of Object.entries((obj[group] as Record<string, string>) ?? {})) {
        if (!QUANTITY.test(q)) errors.push(`${path}.${group}.${k}: not a quantity: ${q}`);
      }
    }
  }
}

/** Kinds this validator knows; objects of other kinds (e.g. ServiceMonitor) are not checked. */
export function knownKind(obj: { apiVersion?: string; kind?: string }): boolean {
  return `${obj.apiVersion}/${obj.kind}` in KINDS;
}

/** Problems of one manifest; empty when it is valid. */
export function validateManifest(obj: unknown): string[] {
  const o = obj as { apiVersion?: string; kind?: string; metadata?: { name?: string } };
  const type = KINDS[`${o.apiVersion}/${o.kind}`];
  if (!type) {
    return [`unsupported kind ${o.apiVersion}/${o.kind}`];
  }
  const errors: string[] = [];
  if (!o.metadata?.name || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(o.metadata.name)) {
    errors.push(`metadata.name: invalid ${JSON.stringify(o.metadata?.name)}`);
  }
  check(obj, type, '', o.kind!, errors);
  return errors;
}
