// The built-in kinds the operator and kubectl touch. Only their discovery shape is modelled:
// the emulator stores them schemalessly, as a real server would store valid objects, apart
// from the few conversions a real server always makes on the way in (normaliseBuiltin).
import { badRequest } from './errors.js';
import type { KObject, ResourceDef } from './types.js';

const ALL_VERBS = [
  'create',
  'delete',
  'deletecollection',
  'get',
  'list',
  'patch',
  'update',
  'watch',
];

interface Spec {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced?: boolean;
  shortNames?: string[];
  categories?: string[];
  status?: boolean;
  scale?: boolean;
  verbs?: string[];
}

const SPECS: Spec[] = [
  {
    group: '',
    version: 'v1',
    kind: 'Namespace',
    plural: 'namespaces',
    namespaced: false,
    shortNames: ['ns'],
    status: true,
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
  },
  { group: '', version: 'v1', kind: 'ConfigMap', plural: 'configmaps', shortNames: ['cm'] },
  { group: '', version: 'v1', kind: 'Secret', plural: 'secrets' },
  {
    group: '',
    version: 'v1',
    kind: 'Service',
    plural: 'services',
    shortNames: ['svc'],
    categories: ['all'],
    status: true,
  },
  {
    group: '',
    version: 'v1',
    kind: 'ServiceAccount',
    plural: 'serviceaccounts',
    shortNames: ['sa'],
  },
  { group: '', version: 'v1', kind: 'Endpoints', plural: 'endpoints', shortNames: ['ep'] },
  { group: '', version: 'v1', kind: 'Event', plural: 'events', shortNames: ['ev'] },
  {
    group: '',
    version: 'v1',
    kind: 'Pod',
    plural: 'pods',
    shortNames: ['po'],
    categories: ['all'],
    status: true,
  },
  {
    group: '',
    version: 'v1',
    kind: 'PersistentVolumeClaim',
    plural: 'persistentvolumeclaims',
    shortNames: ['pvc'],
    status: true,
  },
  {
    group: '',
    version: 'v1',
    kind: 'Node',
    plural: 'nodes',
    namespaced: false,
    shortNames: ['no'],
    status: true,
  },
  {
    group: 'apps',
    version: 'v1',
    kind: 'Deployment',
    plural: 'deployments',
    shortNames: ['deploy'],
    categories: ['all'],
    status: true,
    scale: true,
  },
  {
    group: 'apps',
    version: 'v1',
    kind: 'StatefulSet',
    plural: 'statefulsets',
    shortNames: ['sts'],
    categories: ['all'],
    status: true,
    scale: true,
  },
  {
    group: 'apps',
    version: 'v1',
    kind: 'ReplicaSet',
    plural: 'replicasets',
    shortNames: ['rs'],
    categories: ['all'],
    status: true,
    scale: true,
  },
  {
    group: 'autoscaling',
    version: 'v2',
    kind: 'HorizontalPodAutoscaler',
    plural: 'horizontalpodautoscalers',
    shortNames: ['hpa'],
    categories: ['all'],
    status: true,
  },
  {
    group: 'policy',
    version: 'v1',
    kind: 'PodDisruptionBudget',
    plural: 'poddisruptionbudgets',
    shortNames: ['pdb'],
    status: true,
  },
  { group: 'batch', version: 'v1', kind: 'Job', plural: 'jobs', categories: ['all'], status: true },
  {
    group: 'batch',
    version: 'v1',
    kind: 'CronJob',
    plural: 'cronjobs',
    shortNames: ['cj'],
    categories: ['all'],
    status: true,
  },
  { group: 'coordination.k8s.io', version: 'v1', kind: 'Lease', plural: 'leases' },
  {
    group: 'apiextensions.k8s.io',
    version: 'v1',
    kind: 'CustomResourceDefinition',
    plural: 'customresourcedefinitions',
    namespaced: false,
    shortNames: ['crd', 'crds'],
    categories: ['api-extensions'],
    status: true,
  },
  { group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'Role', plural: 'roles' },
  {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    kind: 'RoleBinding',
    plural: 'rolebindings',
  },
  {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    kind: 'ClusterRole',
    plural: 'clusterroles',
    namespaced: false,
  },
  {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    kind: 'ClusterRoleBinding',
    plural: 'clusterrolebindings',
    namespaced: false,
  },
];

export function builtinResources(): ResourceDef[] {
  return SPECS.map((s) => ({
    group: s.group,
    version: s.version,
    kind: s.kind,
    listKind: `${s.kind}List`,
    plural: s.plural,
    singular: s.kind.toLowerCase(),
    namespaced: s.namespaced ?? true,
    shortNames: s.shortNames,
    categories: s.categories,
    verbs: s.verbs ?? ALL_VERBS,
    status: s.status ?? false,
    scale: s.scale
      ? {
          specReplicasPath: '.spec.replicas',
          statusReplicasPath: '.status.replicas',
          labelSelectorPath: '.spec.selector',
        }
      : undefined,
  }));
}

const goType = (v: unknown): string =>
  Array.isArray(v)
    ? 'array'
    : typeof v === 'boolean'
      ? 'bool'
      : typeof v === 'object'
        ? 'object'
        : typeof v;

/**
 * What a real server does to a built-in object while decoding a create, update, patch or apply
 * (before anything is stored): a Secret's write-only `stringData` is folded into `data`, each
 * value base64-encoded and winning over `data` for the same key, and is never stored or returned.
 */
export function normaliseBuiltin(def: ResourceDef, obj: KObject): void {
  if (def.group !== '' || def.plural !== 'secrets' || !('stringData' in obj)) return;
  const stringData = obj.stringData;
  delete obj.stringData;
  if (stringData === null || stringData === undefined) return;
  const cannot = (value: unknown, type: string) =>
    badRequest(
      `Secret in version "v1" cannot be handled as a Secret: json: cannot unmarshal ${goType(value)} into Go struct field Secret.stringData of type ${type}`,
    );
  if (typeof stringData !== 'object' || Array.isArray(stringData))
    throw cannot(stringData, 'map[string]string');
  const entries = Object.entries(stringData as Record<string, unknown>);
  if (entries.length === 0) return;
  // A copy: patches may share `data` with the stored object the write is compared against.
  const data: Record<string, unknown> =
    typeof obj.data === 'object' && obj.data !== null && !Array.isArray(obj.data)
      ? { ...(obj.data as Record<string, unknown>) }
      : {};
  for (const [k, v] of entries) {
    if (v !== null && typeof v !== 'string') throw cannot(v, 'string');
    data[k] = Buffer.from(v ?? '', 'utf8').toString('base64');
  }
  obj.data = data;
}

export { ALL_VERBS };
