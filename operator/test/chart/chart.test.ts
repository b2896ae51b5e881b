import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { buildClusterObjects, DEFAULT_BUILD_OPTIONS } from '../../src/builders/index.js';
import { kubeTool } from '../../scripts/kube-tools.js';
import { MANIFEST_PATH, renderManifests } from '../../scripts/render-manifests.js';
import { knownKind, validateManifest } from '../support/k8s-schema.js';
import { REPO_ROOT, sampleCluster } from '../support/samples.js';

const CHART = join(REPO_ROOT, 'charts', 'kafscale');
const env = {
  ...process.env,
  HELM_CACHE_HOME: '/tmp/kafscale-helm-cache',
  KUBECONFIG: '/dev/null',
};

type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  [key: string]: unknown;
};

function helm(...args: string[]): string {
  return execFileSync(kubeTool('helm'), args, { encoding: 'utf8', env, stdio: 'pipe' });
}

function template(...set: string[]): Manifest[] {
  const out = helm(
    'template',
    'kafscale',
    CHART,
    '--namespace',
    'kafscale-system',
    ...set.flatMap((s) => ['--set', s]),
  );
  return parseAllDocuments(out)
    .map((d) => {
      if (d.errors.length > 0) throw new Error(String(d.errors[0]));
      return d.toJS() as Manifest | null;
    })
    .filter((d): d is Manifest => d !== null);
}

const ALL_FEATURES = ['metrics.serviceMonitor.enabled=true', 'metrics.prometheusRule.enabled=true'];

describe('the Helm chart', () => {
  test('passes helm lint with default and with all optional features', () => {
    expect(helm('lint', CHART)).toContain('0 chart(s) failed');
    expect(helm('lint', CHART, ...ALL_FEATURES.flatMap((s) => ['--set', s]))).toContain(
      '0 chart(s) failed',
    );
  });

  test('values.schema.json rejects bad values', () => {
    expect(() => helm('template', 'kafscale', CHART, '--set', 'replicaCount=0')).toThrow(
      /replicaCount/,
    );
    expect(() => helm('template', 'kafscale', CHART, '--set', 'logLevel=loud')).toThrow(/logLevel/);
    expect(() => helm('template', 'kafscale', CHART, '--set', 'unknownKey=1')).toThrow(
      /unknownKey/,
    );
  });

  test('renders the expected kinds, every one a valid Kubernetes object', () => {
    const manifests = template(...ALL_FEATURES);
    expect(manifests.map((m) => `${m.kind}/${m.metadata.name}`).sort()).toEqual([
      'ClusterRole/kafscale',
      'ClusterRoleBinding/kafscale',
      'CustomResourceDefinition/kafscaleclusters.kafscale.io',
      'CustomResourceDefinition/kafscaletopics.kafscale.io',
      'Deployment/kafscale',
      'PrometheusRule/kafscale',
      'Role/kafscale-leader-election',
      'RoleBinding/kafscale-leader-election',
      'Service/kafscale-metrics',
      'ServiceAccount/kafscale',
      'ServiceMonitor/kafscale',
    ]);
    for (const m of manifests.filter(knownKind)) {
      expect({ m: `${m.kind}/${m.metadata.name}`, errors: validateManifest(m) }).toEqual({
        m: `${m.kind}/${m.metadata.name}`,
        errors: [],
      });
    }
  });

  test('the output is accepted by the real kubectl', () => {
    const rendered = helm(
      'template',
      'kafscale',
      CHART,
      '--namespace',
      'kafscale-system',
      ...ALL_FEATURES.flatMap((s) => ['--set', s]),
    );
    // Without an API server `kubectl create --dry-run=client` cannot map kinds; a local label
    // still decodes every document the way kubectl does before sending it.
    const out = execFileSync(
      kubeTool('kubectl'),
      ['label', '--local', '--dry-run=client', '-f', '-', '-o', 'name', 'kafscale.io/checked=true'],
      { input: rendered, encoding: 'utf8', env },
    );
    expect(out.trim().split('\n')).toHaveLength(11);
    expect(out).toContain(
      'customresourcedefinition.apiextensions.k8s.io/kafscaleclusters.kafscale.io',
    );
  });

  test('ships the CRDs of crds/ unchanged, kept on uninstall unless crds.keep=false', () => {
    const files = readdirSync(join(REPO_ROOT, 'crds')).filter((f) => f.endsWith('.yaml'));
    expect(files).toHaveLength(2);
    for (const file of files) {
      expect(readFileSync(join(CHART, 'files', 'crds', file), 'utf8')).toBe(
        readFileSync(join(REPO_ROOT, 'crds', file), 'utf8'),
      );
    }
    const source = files.map(
      (f) =>
        parseAllDocuments(readFileSync(join(REPO_ROOT, 'crds', f), 'utf8'))[0].toJS() as Manifest,
    );
    const rendered = template().filter((m) => m.kind === 'CustomResourceDefinition');
    for (const crd of source) {
      const kept = rendered.find((m) => m.metadata.name === crd.metadata.name)!;
      expect(kept).toEqual({
        ...crd,
        metadata: { ...crd.metadata, annotations: { 'helm.sh/resource-policy': 'keep' } },
      });
    }
    const notKept = template('crds.keep=false').filter(
      (m) => m.kind === 'CustomResourceDefinition',
    );
    expect(notKept.map((m) => m.metadata.annotations)).toEqual([undefined, undefined]);
    expect(template('crds.enabled=false').some((m) => m.kind === 'CustomResourceDefinition')).toBe(
      false,
    );
  });

  test('RBAC grants exactly what reconciling the samples needs, and no wildcards', () => {
    const role = template().find((m) => m.kind === 'ClusterRole') as Manifest & {
      rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    };
    const allowed = (group: string, resource: string, verb: string) =>
      role.rules.some(
        (r) =>
          r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb),
      );
    for (const rule of role.rules) {
      expect([...rule.apiGroups, ...rule.resources, ...rule.verbs]).not.toContain('*');
    }
    const plural: Record<string, string> = {
      ServiceAccount: 'serviceaccounts',
      ConfigMap: 'configmaps',
      Secret: 'secrets',
      Service: 'services',
      Deployment: 'deployments',
      StatefulSet: 'statefulsets',
      HorizontalPodAutoscaler: 'horizontalpodautoscalers',
      PodDisruptionBudget: 'poddisruptionbudgets',
      CronJob: 'cronjobs',
    };
    const material = {
      caCertPem: '',
      caKeyPem: '',
      certPem: '',
      keyPem: '',
      notAfter: new Date(0),
    };
    const emitted = new Set<string>();
    for (const file of readdirSync(join(REPO_ROOT, 'config', 'samples')).filter((f) =>
      f.includes('kafscalecluster'),
    )) {
      for (const o of buildClusterObjects(sampleCluster(file), DEFAULT_BUILD_OPTIONS, material)) {
        emitted.add(
          `${o.apiVersion!.includes('/') ? o.apiVersion!.split('/')[0] : ''}|${plural[o.kind!]}`,
        );
      }
    }
    expect(emitted.size).toBe(9);
    const verbs = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];
    for (const key of emitted) {
      const [group, resource] = key.split('|');
      for (const verb of verbs)
        expect({ key, verb, ok: allowed(group, resource, verb) }).toEqual({ key, verb, ok: true });
    }
    const granted = role.rules.flatMap((r) =>
      r.apiGroups.flatMap((g) => r.resources.map((res) => `${g}|${res}`)),
    );
    const extra = granted.filter((k) => !emitted.has(k)).sort();
    expect(extra).toEqual([
      'batch|jobs',
      'events.k8s.io|events',
      'kafscale.io|kafscaleclusters',
      'kafscale.io|kafscaleclusters/finalizers',
      'kafscale.io|kafscaleclusters/status',
      'kafscale.io|kafscaletopics',
      'kafscale.io|kafscaletopics/finalizers',
      'kafscale.io|kafscaletopics/status',
      '|events',
    ]);
    expect(allowed('kafscale.io', 'kafscaleclusters', 'delete')).toBe(false);
    expect(allowed('batch', 'jobs', 'create')).toBe(false);
  });

  test('watchNamespaces turns the ClusterRole into one Role per namespace', () => {
    const manifests = template('watchNamespaces={team-a,team-b}');
    expect(manifests.some((m) => m.kind === 'ClusterRole')).toBe(false);
    expect(
      manifests
        .filter((m) => m.kind === 'Role')
        .map((m) => `${m.metadata.namespace}/${m.metadata.name}`)
        .sort(),
    ).toEqual(['kafscale-system/kafscale-leader-election', 'team-a/kafscale', 'team-b/kafscale']);
    const deployment = manifests.find((m) => m.kind === 'Deployment') as Manifest & {
      spec: { template: { spec: { containers: { args: string[] }[] } } };
    };
    expect(deployment.spec.template.spec.containers[0].args).toContain(
      '--watch-namespaces=team-a,team-b',
    );
  });

  test('config/manifests/install.yaml is what render-manifests.ts produces now', async () => {
    expect(readFileSync(MANIFEST_PATH, 'utf8')).toBe(await renderManifests());
  });
});
