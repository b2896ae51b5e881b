import Ajv from 'ajv';
import { compileCel, CelError, type CelProgram } from './cel.js';
import { crdSchema, type CrdKind, type OpenApiSchema } from './crd.js';

export interface ValidationIssue {
  /** Dotted path of the offending field, e.g. `spec.brokers.replicas`. */
  path: string;
  message: string;
}

export interface ValidationResult<T> {
  valid: boolean;
  issues: ValidationIssue[];
  /** A copy of the input with the schema's defaults applied, as the API server stores it. */
  object: T;
}

/** JSON Schema for ajv from an OpenAPI node: the Kubernetes extensions carry no JSON Schema meaning. */
function toJsonSchema(node: OpenApiSchema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith('x-kubernetes-')) {
      continue;
    }
    if (key === 'properties') {
      out.properties = Object.fromEntries(
        Object.entries(value as Record<string, OpenApiSchema>).map(([k, v]) => [
          k,
          toJsonSchema(v),
        ]),
      );
    } else if (key === 'items' || (key === 'additionalProperties' && typeof value === 'object')) {
      out[key] = toJsonSchema(value as OpenApiSchema);
    } else if (key === 'anyOf') {
      out.anyOf = (value as OpenApiSchema[]).map(toJsonSchema);
    } else {
      out[key] = value;
    }
  }
  // OpenAPI's int32/int64 formats are ranges; ajv v6 does not know them.
  if (node.format === 'int32') {
    out.minimum ??= -2147483648;
    out.maximum ??= 2147483647;
  }
  if (out.format === 'int32' || out.format === 'int64') {
    delete out.format;
  }
  return out;
}

interface RuleNode {
  rules: { program: CelProgram; message: string }[];
  properties: Map<string, RuleNode>;
  additional: RuleNode | null;
  items: RuleNode | null;
}

/** The CEL rules of a schema, compiled once; subtrees without rules are dropped. */
function compileRules(node: OpenApiSchema): RuleNode | null {
  const rules = (node['x-kubernetes-validations'] ?? []).map((r) => ({
    program: compileCel(r.rule),
    message: r.message ?? `failed rule: ${r.rule}`,
  }));
  const properties = new Map<string, RuleNode>();
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    const compiled = compileRules(child);
    if (compiled) {
      properties.set(name, compiled);
    }
  }
  const additional =
    typeof node.additionalProperties === 'object' ? compileRules(node.additionalProperties) : null;
  const items = node.items ? compileRules(node.items) : null;
  if (rules.length === 0 && properties.size === 0 && !additional && !items) {
    return null;
  }
  return { rules, properties, additional, items };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkRules(
  node: RuleNode,
  value: unknown,
  old: unknown,
  path: string,
  issues: ValidationIssue[],
): void {
  if (value === undefined) {
    return;
  }
  for (const { program, message } of node.rules) {
    // Like the API server: transition rules run only when the old object has the field.
    if (program.usesOldSelf && old === undefined) {
      continue;
    }
    try {
      if (!program.evaluate(value, old)) {
        issues.push({ path, message });
      }
    } catch (err) {
      if (!(err instanceof CelError)) {
        throw err;
      }
      issues.push({ path, message: `${message} (${err.message})` });
    }
  }
  const oldObject = isObject(old) ? old : undefined;
  if (isObject(value)) {
    for (const [name, child] of node.properties) {
      checkRules(child, value[name], oldObject?.[name], join(path, name), issues);
    }
    if (node.additional) {
      for (const [name, child] of Object.entries(value)) {
        if (!node.properties.has(name)) {
          checkRules(node.additional, child, oldObject?.[name], join(path, name), issues);
        }
      }
    }
  }
  if (Array.isArray(value) && node.items) {
    // List items are not correlated with old items (only map and set lists are, by key).
    value.forEach((item, i) => checkRules(node.items!, item, undefined, `${path}[${i}]`, issues));
  }
}

function join(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}

function pointerToPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? `[${s}]` : `.${s}`))
    .join('')
    .replace(/^\./, '');
}

/**
 * Validates custom resources exactly against the CRD's schema: OpenAPI constraints through ajv
 * (with the schema's defaults applied, as the API server does on write) and the CEL rules,
 * transition rules included when the previous object is given.
 */
export class ResourceValidator<T> {
  private readonly validateSchema: Ajv.ValidateFunction;
  private readonly rules: RuleNode | null;

  constructor(readonly kind: CrdKind) {
    const schema = crdSchema(kind);
    const ajv = new Ajv({
      allErrors: true,
      useDefaults: true,
      jsonPointers: true,
      unknownFormats: 'ignore',
    });
    this.validateSchema = ajv.compile(toJsonSchema(schema));
    this.rules = compileRules(schema);
  }

  /** A defaulted deep copy of a resource, without judging it. */
  withDefaults(resource: unknown): T {
    const copy = structuredClone(resource);
    this.validateSchema(copy);
    return copy as T;
  }

  validate(resource: unknown, previous?: unknown): ValidationResult<T> {
    const object = structuredClone(resource);
    const issues: ValidationIssue[] = [];
    if (!this.validateSchema(object)) {
      for (const e of this.validateSchema.errors ?? []) {
        // anyOf reports each failed branch and then itself; the summary is enough.
        if (e.keyword === 'type' && /\/anyOf\//.test(e.schemaPath)) {
          continue;
        }
        let path = pointerToPath(e.dataPath);
        if (e.keyword === 'required') {
          path = join(path, (e.params as { missingProperty: string }).missingProperty);
          issues.push({ path, message: 'Required value' });
          continue;
        }
        const allowed =
          e.keyword === 'enum'
            ? `: ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`
            : '';
        issues.push({ path, message: `${e.message ?? e.keyword}${allowed}` });
      }
    } else if (this.rules) {
      const old = previous === undefined ? undefined : this.withDefaults(previous);
      checkRules(this.rules, object, old, '', issues);
    }
    return { valid: issues.length === 0, issues, object: object as T };
  }
}

export function formatIssues(issues: ValidationIssue[]): string {
  return issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
}
