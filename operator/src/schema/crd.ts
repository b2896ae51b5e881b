import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/** An OpenAPI v3 schema node as the CRDs write it (structural schema). */
export interface OpenApiSchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  properties?: Record<string, OpenApiSchema>;
  additionalProperties?: OpenApiSchema | boolean;
  items?: OpenApiSchema;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  anyOf?: OpenApiSchema[];
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  'x-kubernetes-validations'?: { rule: string; message?: string }[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  [key: string]: unknown;
}

export interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  schema: { openAPIV3Schema: OpenApiSchema };
  subresources?: {
    status?: object;
    scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath?: string };
  };
  additionalPrinterColumns?: {
    name: string;
    type: string;
    jsonPath: string;
    description?: string;
  }[];
}

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    group: string;
    scope: 'Namespaced' | 'Cluster';
    names: {
      kind: string;
      listKind: string;
      plural: string;
      singular: string;
      shortNames?: string[];
      categories?: string[];
    };
    versions: CrdVersion[];
  };
}

export type CrdKind = 'KafScaleCluster' | 'KafScaleTopic';

export const CRD_FILES: Record<CrdKind, string> = {
  KafScaleCluster: 'kafscale.io_kafscaleclusters.yaml',
  KafScaleTopic: 'kafscale.io_kafscaletopics.yaml',
};

/**
 * The repository's `crds/` folder. Sources run from `operator/src/schema`, compiled code from
 * `operator/dist/src/schema`, and the image copies `crds/` next to `operator/`, so walk up
 * instead of hard-coding a depth; KAFSCALE_CRD_DIR overrides for unusual layouts.
 */
export function crdDirectory(): string {
  const override = process.env.KAFSCALE_CRD_DIR;
  if (override) {
    return override;
  }
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'crds');
    if (existsSync(join(candidate, CRD_FILES.KafScaleCluster))) {
      return candidate;
    }
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error('crds/ not found above the operator; set KAFSCALE_CRD_DIR');
    }
    dir = parent;
  }
}

const cache = new Map<CrdKind, CustomResourceDefinition>();

export function loadCrd(kind: CrdKind): CustomResourceDefinition {
  let crd = cache.get(kind);
  if (!crd) {
    crd = parse(
      readFileSync(join(crdDirectory(), CRD_FILES[kind]), 'utf8'),
    ) as CustomResourceDefinition;
    cache.set(kind, crd);
  }
  return crd;
}

/** The schema of the version the operator speaks (the storage version). */
export function crdSchema(kind: CrdKind): OpenApiSchema {
  const version = loadCrd(kind).spec.versions.find((v) => v.storage);
  if (!version) {
    throw new Error(`${kind} CRD has no storage version`);
  }
  return version.schema.openAPIV3Schema;
}
