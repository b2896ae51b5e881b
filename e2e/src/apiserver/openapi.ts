// Just enough OpenAPI v3 for kubectl: it reads `/openapi/v3`, fetches the group-version
// document and looks for a PATCH operation of the kind that declares a `fieldValidation`
// parameter. When found, kubectl leaves validation to the server (fieldValidation=Strict)
// instead of validating client-side against schemas the emulator does not carry. No
// requestBody is declared, so kubectl computes strategic merge patches from its compiled-in
// types rather than from these documents.
import { createHash } from 'node:crypto';
import type { ResourceDef } from './types.js';

const gvPath = (def: ResourceDef): string =>
  def.group ? `apis/${def.group}/${def.version}` : `api/${def.version}`;

const QUERY_PARAMS = ['dryRun', 'fieldManager', 'fieldValidation', 'force', 'pretty'];

export function openApiDocument(defs: ResourceDef[]): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  const schemas: Record<string, unknown> = {};
  for (const def of defs) {
    const gvk = { group: def.group, version: def.version, kind: def.kind };
    const base = `/${gvPath(def)}${def.namespaced ? '/namespaces/{namespace}' : ''}/${def.plural}`;
    const operation = (action: string) => ({
      operationId: `${action}${def.kind}`,
      'x-kubernetes-action': action,
      'x-kubernetes-group-version-kind': gvk,
      parameters: QUERY_PARAMS.map((name) => ({
        name,
        in: 'query',
        schema: { type: name === 'force' ? 'boolean' : 'string', uniqueItems: true },
      })),
      responses: { '200': { description: 'OK' } },
    });
    paths[`${base}/{name}`] = { patch: operation('patch'), put: operation('put') };
    paths[base] = { post: operation('post') };
    const schemaName = `${(def.group || 'core').split('.').reverse().join('.')}.${def.version}.${def.kind}`;
    schemas[schemaName] = {
      ...(def.custom?.schema ?? { type: 'object' }),
      'x-kubernetes-group-version-kind': [gvk],
    };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'v1.34.0' },
    paths,
    components: { schemas },
  };
}

export function openApiIndex(defs: ResourceDef[]): Record<string, unknown> {
  const byGv = new Map<string, ResourceDef[]>();
  for (const d of defs) byGv.set(gvPath(d), [...(byGv.get(gvPath(d)) ?? []), d]);
  const paths: Record<string, unknown> = {};
  for (const [gv, list] of byGv) {
    const hash = createHash('sha512')
      .update(JSON.stringify(openApiDocument(list)))
      .digest('hex')
      .slice(0, 128)
      .toUpperCase();
    paths[gv] = { serverRelativeURL: `/openapi/v3/${gv}?hash=${hash}` };
  }
  return { paths };
}
