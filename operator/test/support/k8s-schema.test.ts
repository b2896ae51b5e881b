import { validateManifest } from './k8s-schema.js';

const deployment = () => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'd' },
  spec: {
    selector: { matchLabels: { a: 'b' } },
    template: {
      metadata: { labels: { a: 'b' } },
      spec: {
        containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 80, protocol: 'TCP' }] }],
      },
    },
  },
});

describe('the Kubernetes manifest validator', () => {
  test('accepts a valid Deployment', () => {
    expect(validateManifest(deployment())).toEqual([]);
  });

  test('finds unknown fields, wrong types, missing required fields, bad enums and quantities', () => {
    const d = deployment() as ReturnType<typeof deployment> & Record<string, never>;
    const c = d.spec.template.spec.containers[0] as Record<string, unknown>;
    c.imagePullPolicy = 'Sometimes';
    c.livenessProbe = { httpGet: { path: '/healthz' } };
    c.resources = { limits: { memory: '2 GB' } };
    c.envv = [];
    (c.ports as Record<string, unknown>[])[0].containerPort = '80';
    delete (d.spec as Record<string, unknown>).selector;
    expect(validateManifest(d).sort()).toEqual([
      'Deployment.spec.selector: required in V1DeploymentSpec',
      'Deployment.spec.template.spec.containers[0].imagePullPolicy: must be one of Always, IfNotPresent, Never, got "Sometimes"',
      'Deployment.spec.template.spec.containers[0].livenessProbe.httpGet.port: required in V1HTTPGetAction',
      'Deployment.spec.template.spec.containers[0].ports[0].containerPort: expected int32, got "80"',
      'Deployment.spec.template.spec.containers[0].resources.limits.memory: not a quantity: 2 GB',
      'Deployment.spec.template.spec.containers[0]: unknown field "envv" in V1Container',
    ]);
  });

  test('refuses kinds it does not know and invalid names', () => {
    expect(validateManifest({ apiVersion: 'v9', kind: 'Thing', metadata: { name: 'x' } })).toEqual([
      'unsupported kind v9/Thing',
    ]);
    expect(
      validateManifest({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'Bad_Name' } }),
    ).toEqual(['metadata.name: invalid "Bad_Name"']);
  });
});
