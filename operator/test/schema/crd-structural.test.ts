import {
  CRD_FILES,
  crdSchema,
  loadCrd,
  type CrdKind,
  type OpenApiSchema,
} from '../../src/schema/index.js';
import { compileCel } from '../../src/schema/cel.js';
import { ResourceValidator } from '../../src/schema/validator.js';
import { validateManifest } from '../support/k8s-schema.js';

/** Where the CRDs deliberately keep unknown fields: pass-through core/v1 pod scheduling types. */
const PRESERVE_UNKNOWN = new Set([
  'spec.brokers.affinity',
  'spec.brokers.tolerations[]',
  'spec.brokers.topologySpreadConstraints[]',
]);

/** Keywords a node inside anyOf/allOf/oneOf/not may carry (value validations only). */
const JUNCTOR_ALLOWED = new Set(['type', 'pattern', 'minimum', 'maximum', 'format', 'enum']);

interface Node {
  path: string;
  schema: OpenApiSchema;
}

function walk(schema: OpenApiSchema, path: string, out: Node[]): Node[] {
  out.push({ path, schema });
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    walk(child, path ? `${path}.${name}` : name, out);
  }
  if (typeof schema.additionalProperties === 'object') {
    walk(schema.additionalProperties, `${path}.*`, out);
  }
  if (schema.items) {
    walk(schema.items, `${path}[]`, out);
  }
  return out;
}

describe.each(Object.keys(CRD_FILES) as CrdKind[])('the %s CRD', (kind) => {
  const crd = loadCrd(kind);
  const root = crdSchema(kind);
  const nodes = walk(root, '', []);

  test('is a valid CustomResourceDefinition object', () => {
    expect(validateManifest(crd)).toEqual([]);
    expect(crd.spec.group).toBe('kafscale.io');
    expect(crd.spec.versions.map((v) => v.name)).toEqual(['v1alpha1']);
    expect(crd.spec.names.categories).toEqual(['kafscale']);
    expect(crd.metadata.name).toBe(`${crd.spec.names.plural}.${crd.spec.group}`);
  });

  test('every node specifies a type, unless it is int-or-string or keeps unknown fields', () => {
    for (const { path, schema } of nodes) {
      if (path === 'metadata') continue;
      if (schema['x-kubernetes-int-or-string']) {
        expect({ path, anyOf: schema.anyOf }).toEqual({
          path,
          anyOf: [{ type: 'integer' }, { type: 'string' }],
        });
        expect({ path, type: schema.type }).toEqual({ path, type: undefined });
        continue;
      }
      expect({ path, type: typeof schema.type }).toEqual({ path, type: 'string' });
    }
  });

  test('every field has a description (except metadata, which the API server owns)', () => {
    for (const { path, schema } of nodes) {
      if (path === 'metadata' || path.endsWith('.*')) continue;
      expect({ path, description: typeof schema.description }).toEqual({
        path,
        description: 'string',
      });
    }
  });

  test('no node has properties and additionalProperties together', () => {
    for (const { path, schema } of nodes) {
      expect({
        path,
        both: schema.properties !== undefined && schema.additionalProperties !== undefined,
      }).toEqual({
        path,
        both: false,
      });
    }
  });

  test('junctors carry only value validations', () => {
    for (const { path, schema } of nodes) {
      for (const junctor of ['anyOf', 'allOf', 'oneOf', 'not'] as const) {
        const branches = schema[junctor] as OpenApiSchema[] | OpenApiSchema | undefined;
        for (const branch of branches === undefined ? [] : [branches].flat()) {
          for (const key of Object.keys(branch)) {
            expect({ path, junctor, key, allowed: JUNCTOR_ALLOWED.has(key) }).toEqual({
              path,
              junctor,
              key,
              allowed: true,
            });
          }
        }
      }
    }
  });

  test('x-kubernetes-preserve-unknown-fields only where intended', () => {
    const preserving = nodes
      .filter((n) => n.schema['x-kubernetes-preserve-unknown-fields'])
      .map((n) => n.path);
    for (const path of preserving) {
      expect(PRESERVE_UNKNOWN.has(path) ? path : `unexpected: ${path}`).toBe(path);
    }
  });

  test('the root declares only apiVersion, kind, metadata, spec and status; metadata has no fields', () => {
    expect(Object.keys(root.properties!).sort()).toEqual([
      'apiVersion',
      'kind',
      'metadata',
      'spec',
      'status',
    ]);
    expect(root.properties!.metadata).toEqual({ type: 'object' });
  });

  test('every default validates against its own schema, and object defaults are objects', () => {
    for (const { path, schema } of nodes) {
      if (schema.default === undefined) continue;
      if (schema.enum) expect(schema.enum).toContainEqual(schema.default);
      if (schema.type === 'object') expect(typeof schema.default).toBe('object');
      if (schema.type === 'integer') expect(Number.isInteger(schema.default)).toBe(true);
      if (schema.type === 'boolean') expect(typeof schema.default).toBe('boolean');
      if (schema.type === 'string') {
        expect(typeof schema.default).toBe('string');
        if (schema.pattern)
          expect({ path, ok: new RegExp(schema.pattern).test(schema.default as string) }).toEqual({
            path,
            ok: true,
          });
      }
      if (schema.minimum !== undefined)
        expect(schema.default as number).toBeGreaterThanOrEqual(schema.minimum);
      if (schema.maximum !== undefined)
        expect(schema.default as number).toBeLessThanOrEqual(schema.maximum);
    }
  });

  test('every pattern is a valid regular expression and every list type is known', () => {
    for (const { schema } of nodes) {
      if (schema.pattern) expect(() => new RegExp(schema.pattern!)).not.toThrow();
      if (schema['x-kubernetes-list-type']) {
        expect(['atomic', 'set', 'map']).toContain(schema['x-kubernetes-list-type']);
        if (schema['x-kubernetes-list-type'] === 'map') {
          for (const key of schema['x-kubernetes-list-map-keys']!)
            expect(schema.items!.required).toContain(key);
        }
      }
    }
  });

  test('every CEL rule is in the subset the operator evaluates and has a message', () => {
    const rules = nodes.flatMap((n) => n.schema['x-kubernetes-validations'] ?? []);
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) {
      expect(() => compileCel(rule.rule)).not.toThrow();
      expect(rule.message).toEqual(expect.any(String));
    }
    expect(() => new ResourceValidator(kind)).not.toThrow();
  });

  test('printer columns point at fields of the schema', () => {
    for (const column of crd.spec.versions[0].additionalPrinterColumns ?? []) {
      const path = column.jsonPath.replace(/\[\?.*$/, '').replace(/^\./, '');
      if (path.startsWith('metadata.')) continue;
      expect(nodes.map((n) => n.path)).toContain(path);
    }
  });
});

test('the cluster CRD has the scale subresource, printer columns and short name of the issue', () => {
  const crd = loadCrd('KafScaleCluster');
  const version = crd.spec.versions[0];
  expect(version.subresources).toEqual({
    status: {},
    scale: {
      specReplicasPath: '.spec.brokers.replicas',
      statusReplicasPath: '.status.replicas',
      labelSelectorPath: '.status.selector',
    },
  });
  expect(version.additionalPrinterColumns!.map((c) => c.name)).toEqual([
    'Ready',
    'Replicas',
    'Bucket',
    'Age',
  ]);
  expect(crd.spec.names.shortNames).toEqual(['ksc']);
});

test('the topic CRD has the status subresource, printer columns and short name of the issue', () => {
  const crd = loadCrd('KafScaleTopic');
  const version = crd.spec.versions[0];
  expect(version.subresources).toEqual({ status: {} });
  expect(version.additionalPrinterColumns!.map((c) => c.name)).toEqual([
    'Partitions',
    'Ready',
    'Age',
  ]);
  expect(crd.spec.names.shortNames).toEqual(['kst']);
});
