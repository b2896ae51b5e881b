// CustomResourceDefinitions: turning one into served resources, and applying its structural
// schema to writes the way the API server does: prune unknown fields, default, validate with
// OpenAPI (here ajv) and then with `x-kubernetes-validations` CEL rules.
import Ajv from 'ajv';
import { compileCel, CelError, referencesOldSelf } from './cel.js';
import { invalid, type StatusCause } from './errors.js';
import type { JsonObject, KObject, PrinterColumn, ResourceDef } from './types.js';
import { ALL_VERBS } from './builtins.js';

type Schema = Record<string, unknown>;
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  schema?: { openAPIV3Schema?: Schema };
  subresources?: {
    status?: object;
    scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath?: string };
  };
  additionalPrinterColumns?: PrinterColumn[];
}

interface CrdSpec {
  group: string;
  scope: 'Namespaced' | 'Cluster';
  names: {
    plural: string;
    singular?: string;
    kind: string;
    listKind?: string;
    shortNames?: string[];
    categories?: string[];
  };
  versions: CrdVersion[];
}

const specOf = (crd: KObject): CrdSpec => crd.spec as CrdSpec;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Structural checks on the CRD itself; a real server checks far more. */
export function validateCrd(crd: KObject): void {
  const spec = specOf(crd);
  const causes: StatusCause[] = [];
  const name = crd.metadata.name ?? '';
  if (!spec?.names?.plural || !DNS_LABEL.test(spec.names.plural)) {
    causes.push({
      reason: 'FieldValueRequired',
      field: 'spec.names.plural',
      message: 'Required value',
    });
  }
  if (!spec?.names?.kind) {
    causes.push({
      reason: 'FieldValueRequired',
      field: 'spec.names.kind',
      message: 'Required value',
    });
  }
  if (!spec?.group || !spec.group.includes('.')) {
    causes.push({
      reason: 'FieldValueInvalid',
      field: 'spec.group',
      message: `Invalid value: "${spec?.group ?? ''}": should be a domain with at least one dot`,
    });
  }
  if (spec?.names?.plural && spec.group && name !== `${spec.names.plural}.${spec.group}`) {
    causes.push({
      reason: 'FieldValueInvalid',
      field: 'metadata.name',
      message: `Invalid value: "${name}": must be spec.names.plural+"."+spec.group`,
    });
  }
  if (spec?.scope !== 'Namespaced' && spec?.scope !== 'Cluster') {
    causes.push({
      reason: 'FieldValueNotSupported',
      field: 'spec.scope',
      message: `Unsupported value: "${String(spec?.scope)}": supported values: "Cluster", "Namespaced"`,
    });
  }
  const versions = spec?.versions ?? [];
  if (versions.length === 0) {
    causes.push({
      reason: 'FieldValueRequired',
      field: 'spec.versions',
      message: 'Required value',
    });
  } else if (versions.filter((v) => v.storage).length !== 1) {
    causes.push({
      reason: 'FieldValueInvalid',
      field: 'spec.versions',
      message: 'Invalid value: "array": must have exactly one version marked as storage version',
    });
  }
  if (causes.length > 0) {
    throw invalid('CustomResourceDefinition', 'apiextensions.k8s.io', name, causes);
  }
}

export function resourcesOfCrd(crd: KObject): ResourceDef[] {
  const spec = specOf(crd);
  return spec.versions
    .filter((v) => v.served)
    .map((v) => ({
      group: spec.group,
      version: v.name,
      kind: spec.names.kind,
      listKind: spec.names.listKind ?? `${spec.names.kind}List`,
      plural: spec.names.plural,
      singular: spec.names.singular ?? spec.names.kind.toLowerCase(),
      namespaced: spec.scope === 'Namespaced',
      shortNames: spec.names.shortNames,
      categories: spec.names.categories,
      verbs: ALL_VERBS,
      status: v.subresources?.status !== undefined,
      scale: v.subresources?.scale,
      custom: {
        schema: v.schema?.openAPIV3Schema as JsonObject | undefined,
        printerColumns: v.additionalPrinterColumns ?? [],
        storage: v.storage,
      },
    }));
}

/** The status a freshly accepted CRD reports once its names are served. */
export function acceptedStatus(crd: KObject, now: string): JsonObject {
  const spec = specOf(crd);
  return {
    conditions: [
      {
        type: 'NamesAccepted',
        status: 'True',
        reason: 'NoConflicts',
        message: 'no conflicts found',
        lastTransitionTime: now,
      },
      {
        type: 'Established',
        status: 'True',
        reason: 'InitialNamesAccepted',
        message: 'the initial names have been accepted',
        lastTransitionTime: now,
      },
    ],
    acceptedNames: {
      plural: spec.names.plural,
      singular: spec.names.singular ?? spec.names.kind.toLowerCase(),
      kind: spec.names.kind,
      listKind: spec.names.listKind ?? `${spec.names.kind}List`,
      ...(spec.names.shortNames ? { shortNames: spec.names.shortNames } : {}),
      ...(spec.names.categories ? { categories: spec.names.categories } : {}),
    },
    storedVersions: spec.versions.filter((v) => v.storage).map((v) => v.name),
  };
}

// ---- schema application ----

const preserves = (s: Schema): boolean => s['x-kubernetes-preserve-unknown-fields'] === true;

/** Drops fields the schema does not declare; returns the dotted paths it dropped. */
export function prune(obj: KObject, schema: Schema | undefined): string[] {
  if (!schema) return [];
  const dropped: string[] = [];
  const props = (schema.properties ?? {}) as Record<string, Schema>;
  for (const k of Object.keys(obj)) {
    if (k === 'apiVersion' || k === 'kind' || k === 'metadata') continue;
    if (props[k]) pruneValue(obj[k], props[k], k, dropped);
    else if (!preserves(schema)) {
      delete obj[k];
      dropped.push(k);
    }
  }
  return dropped;
}

/**
 * The API server's algorithm: a node with `x-kubernetes-preserve-unknown-fields` keeps the
 * fields its schema does not declare, as they are, while declared properties below it are
 * pruned by their own schemas (the marker is not inherited by properties). On a list the
 * marker covers its items too, as the server's skipPrune does. An embedded resource keeps
 * apiVersion, kind and metadata.
 */
function pruneValue(v: unknown, s: Schema, path: string, dropped: string[]): void {
  if (Array.isArray(v)) {
    let items = s.items as Schema | undefined;
    if (items && preserves(s) && !preserves(items))
      items = { ...items, 'x-kubernetes-preserve-unknown-fields': true };
    if (items) v.forEach((x, i) => pruneValue(x, items, `${path}[${i}]`, dropped));
    return;
  }
  if (!isObj(v)) return;
  const props = s.properties as Record<string, Schema> | undefined;
  const additional = isObj(s.additionalProperties) ? (s.additionalProperties as Schema) : undefined;
  const embedded = s['x-kubernetes-embedded-resource'] === true;
  for (const k of Object.keys(v)) {
    if (embedded && (k === 'apiVersion' || k === 'kind' || k === 'metadata')) continue;
    const child = props?.[k] ?? additional;
    if (child) pruneValue(v[k], child, `${path}.${k}`, dropped);
    else if (!preserves(s) && s.additionalProperties !== true) {
      delete v[k];
      dropped.push(`${path}.${k}`);
    }
  }
}

export function applyDefaults(v: unknown, s: Schema | undefined, root = true): void {
  if (!s) return;
  if (Array.isArray(v)) {
    if (s.items) for (const x of v) applyDefaults(x, s.items as Schema, false);
    return;
  }
  if (!isObj(v)) return;
  const props = (s.properties ?? {}) as Record<string, Schema>;
  for (const [k, ps] of Object.entries(props)) {
    if (root && k === 'metadata') continue;
    if (v[k] === undefined && ps.default !== undefined) v[k] = structuredClone(ps.default);
    if (v[k] !== undefined) applyDefaults(v[k], ps, false);
  }
  if (isObj(s.additionalProperties)) {
    for (const k of Object.keys(v)) {
      if (!props[k]) applyDefaults(v[k], s.additionalProperties as Schema, false);
    }
  }
}

const ajv = new Ajv({
  allErrors: true,
  jsonPointers: true,
  nullable: true,
  unknownFormats: 'ignore',
  schemaId: 'auto',
  // OpenAPI's number formats, which the API server accepts and (like here) does not check.
  formats: Object.fromEntries(
    ['int32', 'int64', 'float', 'double'].map((f) => [f, { type: 'number', validate: () => true }]),
  ),
});
const compiled = new WeakMap<Schema, Ajv.ValidateFunction>();

/** Kubernetes extensions and root metadata are not JSON Schema; strip them for ajv. */
function forAjv(s: unknown, root: boolean): unknown {
  if (Array.isArray(s)) return s.map((x) => forAjv(x, false));
  if (!isObj(s)) return s;
  const out: Obj = {};
  for (const [k, v] of Object.entries(s)) {
    if (k.startsWith('x-kubernetes-') || k === 'default' || k === 'example') continue;
    if (k === 'properties' && isObj(v)) {
      const props: Obj = {};
      for (const [pk, pv] of Object.entries(v)) {
        props[pk] = root && pk === 'metadata' ? { type: 'object' } : forAjv(pv, false);
      }
      out[k] = props;
    } else out[k] = forAjv(v, false);
  }
  if (s['x-kubernetes-int-or-string'] === true && out.type === undefined) {
    out.anyOf = [{ type: 'integer' }, { type: 'string' }];
  }
  return out;
}

const render = (v: unknown): string => {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return JSON.stringify(Array.isArray(v) ? 'array' : 'object');
};

const typeName = (v: unknown): string =>
  Array.isArray(v)
    ? 'array'
    : v === null
      ? 'null'
      : typeof v === 'number'
        ? Number.isInteger(v)
          ? 'integer'
          : 'number'
        : typeof v === 'object'
          ? 'object'
          : typeof v;

function pointerToPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
}

function valueAtPointer(obj: unknown, pointer: string): unknown {
  let cur = obj;
  for (const seg of pointer.split('/').slice(1)) {
    const k = seg.replace(/~1/g, '/').replace(/~0/g, '~');
    cur = Array.isArray(cur) ? cur[Number(k)] : isObj(cur) ? cur[k] : undefined;
  }
  return cur;
}

export function schemaCauses(obj: KObject, schema: Schema | undefined): StatusCause[] {
  if (!schema) return [];
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(forAjv(schema, true) as object);
    compiled.set(schema, validate);
  }
  const causes: StatusCause[] = [];
  if (!validate(obj)) causes.push(...ajvCauses(obj, validate.errors ?? []));
  embeddedWalk(obj, schema, '', causes, true);
  return causes;
}

const DNS1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_MESSAGE =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

/** TypeMeta of `x-kubernetes-embedded-resource` objects, as the API server checks it. */
function embeddedWalk(v: unknown, s: Schema, path: string, causes: StatusCause[], root: boolean) {
  const child = (k: string) => (path ? `${path}.${k}` : k);
  if (Array.isArray(v)) {
    const items = s.items as Schema | undefined;
    if (items) v.forEach((x, i) => embeddedWalk(x, items, `${path}[${i}]`, causes, false));
    return;
  }
  if (!isObj(v)) return;
  if (!root && s['x-kubernetes-embedded-resource'] === true) {
    for (const k of ['apiVersion', 'kind']) {
      const field = child(k);
      const x = v[k];
      const invalid = (why: string) =>
        causes.push({ reason: 'FieldValueInvalid', field, message: `Invalid value: ${why}` });
      if (!(k in v))
        causes.push({ reason: 'FieldValueRequired', field, message: 'Required value' });
      else if (typeof x !== 'string') invalid(`${render(x)}: must be a string`);
      else if (x === '') invalid('"": must not be empty');
      else if (k === 'apiVersion' && x.split('/').length > 2)
        invalid(`${render(x)}: unexpected GroupVersion string: ${x}`);
      else if (k === 'kind' && (x.length > 63 || !DNS1035.test(x.toLowerCase()))) {
        const why = x.length > 63 ? 'must be no more than 63 characters' : DNS1035_MESSAGE;
        invalid(`${render(x)}: may have mixed case, but should otherwise match: ${why}`);
      }
    }
  }
  const props = (s.properties ?? {}) as Record<string, Schema>;
  const additional = isObj(s.additionalProperties) ? (s.additionalProperties as Schema) : undefined;
  for (const [k, x] of Object.entries(v)) {
    if (root && k === 'metadata') continue;
    if (props[k]) embeddedWalk(x, props[k], child(k), causes, false);
    else if (additional) embeddedWalk(x, additional, `${path}[${k}]`, causes, false);
  }
}

function ajvCauses(obj: KObject, errors: Ajv.ErrorObject[]): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const e of errors) {
    const field = pointerToPath(e.dataPath);
    const value = valueAtPointer(obj, e.dataPath);
    const p = e.params as Record<string, unknown>;
    switch (e.keyword) {
      case 'required': {
        const missing = String(p.missingProperty).replace(/^\./, '');
        causes.push({
          reason: 'FieldValueRequired',
          field: field ? `${field}.${missing}` : missing,
          message: 'Required value',
        });
        break;
      }
      case 'type':
        causes.push({
          reason: 'FieldValueTypeInvalid',
          field,
          message: `Invalid value: ${render(value)}: ${field} in body must be of type ${String(p.type)}: ${JSON.stringify(typeName(value))}`,
        });
        break;
      case 'enum':
        causes.push({
          reason: 'FieldValueNotSupported',
          field,
          message: `Unsupported value: ${render(value)}: supported values: ${(p.allowedValues as unknown[]).map((x) => JSON.stringify(x)).join(', ')}`,
        });
        break;
      case 'minimum':
      case 'maximum':
      case 'exclusiveMinimum':
      case 'exclusiveMaximum': {
        const word = e.keyword.includes('inimum') ? 'greater than' : 'less than';
        const orEqual = e.keyword.startsWith('exclusive') ? '' : ' or equal to';
        causes.push({
          reason: 'FieldValueInvalid',
          field,
          message: `Invalid value: ${render(value)}: ${field} in body should be ${word}${orEqual} ${String(p.limit)}`,
        });
        break;
      }
      case 'pattern':
        causes.push({
          reason: 'FieldValueInvalid',
          field,
          message: `Invalid value: ${render(value)}: ${field} in body should match '${String(p.pattern)}'`,
        });
        break;
      case 'minLength':
      case 'maxLength':
        causes.push({
          reason: e.keyword === 'maxLength' ? 'FieldValueTooLong' : 'FieldValueInvalid',
          field,
          message: `Invalid value: ${render(value)}: ${field} in body should be at ${e.keyword === 'minLength' ? 'least' : 'most'} ${String(p.limit)} chars long`,
        });
        break;
      case 'minItems':
      case 'maxItems':
        causes.push({
          reason: e.keyword === 'maxItems' ? 'FieldValueTooMany' : 'FieldValueInvalid',
          field,
          message: `Invalid value: ${render(value)}: ${field} in body should have at ${e.keyword === 'minItems' ? 'least' : 'most'} ${String(p.limit)} items`,
        });
        break;
      default:
        causes.push({
          reason: 'FieldValueInvalid',
          field,
          message: `Invalid value: ${render(value)}: ${field} in body ${e.message ?? 'is invalid'}`,
        });
    }
  }
  return causes;
}

interface CelRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  reason?: string;
  fieldPath?: string;
}

const CEL_REASONS: Record<string, string> = {
  FieldValueInvalid: 'FieldValueInvalid',
  FieldValueForbidden: 'FieldValueForbidden',
  FieldValueRequired: 'FieldValueRequired',
  FieldValueDuplicate: 'FieldValueDuplicate',
};

/** Evaluates every `x-kubernetes-validations` rule; transition rules only on updates. */
export function celCauses(obj: unknown, old: unknown, schema: Schema | undefined): StatusCause[] {
  const causes: StatusCause[] = [];
  if (schema) celWalk(obj, old, schema, '', causes, true);
  return causes;
}

function celWalk(
  v: unknown,
  old: unknown,
  s: Schema,
  path: string,
  causes: StatusCause[],
  root: boolean,
): void {
  if (v === undefined || v === null) return;
  const rules = (s['x-kubernetes-validations'] ?? []) as CelRule[];
  for (const r of rules) {
    if (referencesOldSelf(r.rule) && old === undefined) continue;
    const f = compileCel(r.rule);
    if (f instanceof CelError) continue;
    let ok: unknown;
    let failure: string | undefined;
    try {
      ok = f({ self: v, oldSelf: old });
    } catch (e) {
      failure = `rule evaluation error: ${(e as Error).message}`;
    }
    if (ok === true) continue;
    let message = failure ?? r.message ?? `failed rule: ${r.rule}`;
    if (!failure && r.messageExpression) {
      const m = compileCel(r.messageExpression);
      try {
        if (!(m instanceof CelError)) message = String(m({ self: v, oldSelf: old }));
      } catch {
        // the static message or the rule text stands in, as on a real server
      }
    }
    const field = r.fieldPath ? `${path}${r.fieldPath}`.replace(/^\./, '') : path;
    causes.push({
      reason: CEL_REASONS[r.reason ?? ''] ?? 'FieldValueInvalid',
      field,
      message: `Invalid value: ${JSON.stringify(typeName(v))}: ${message}`,
    });
  }
  const props = (s.properties ?? {}) as Record<string, Schema>;
  if (isObj(v)) {
    for (const [k, ps] of Object.entries(props)) {
      if (root && k === 'metadata') continue;
      const childOld = isObj(old) ? old[k] : undefined;
      celWalk(v[k], childOld, ps, path ? `${path}.${k}` : k, causes, false);
    }
    if (isObj(s.additionalProperties)) {
      for (const k of Object.keys(v)) {
        if (props[k]) continue;
        const childOld = isObj(old) ? old[k] : undefined;
        celWalk(v[k], childOld, s.additionalProperties as Schema, `${path}[${k}]`, causes, false);
      }
    }
  } else if (Array.isArray(v) && s.items) {
    const mapKeys =
      s['x-kubernetes-list-type'] === 'map'
        ? (s['x-kubernetes-list-map-keys'] as string[])
        : undefined;
    v.forEach((x, i) => {
      const prev =
        mapKeys && Array.isArray(old) && isObj(x)
          ? old.find((o) => isObj(o) && mapKeys.every((k) => o[k] === x[k]))
          : undefined;
      celWalk(x, prev, s.items as Schema, `${path}[${i}]`, causes, false);
    });
  }
}

/** Merge keys for server-side apply, from the schema's list-type markers. */
export function schemaListKeys(schema: Schema | undefined) {
  return (names: string[], field: string): string[] | 'set' | undefined => {
    let s: Schema | undefined = schema;
    for (const n of names) {
      if (!s) return undefined;
      const props = s.properties as Record<string, Schema> | undefined;
      s =
        props?.[n] ??
        (isObj(s.additionalProperties) ? (s.additionalProperties as Schema) : undefined);
      if (s && s.type === 'array') s = s.items as Schema | undefined;
    }
    const fs = (s?.properties as Record<string, Schema> | undefined)?.[field];
    if (!fs) return undefined;
    if (fs['x-kubernetes-list-type'] === 'map') return fs['x-kubernetes-list-map-keys'] as string[];
    if (fs['x-kubernetes-list-type'] === 'set') return 'set';
    return undefined;
  };
}
