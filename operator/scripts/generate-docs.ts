/**
 * Writes the field reference of docs/operator.md from the CRDs' descriptions, between the
 * `<!-- BEGIN GENERATED ... -->` and `<!-- END GENERATED ... -->` markers.
 * `tsx operator/scripts/generate-docs.ts` rewrites it; a test fails when it is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crdSchema, type CrdKind, type OpenApiSchema } from '../src/schema/index.js';

export const DOC_PATH = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'docs',
  'operator.md',
);

function typeOf(s: OpenApiSchema): string {
  if (s['x-kubernetes-int-or-string']) return 'int or string';
  if (s.type === 'array') return `[]${s.items ? typeOf(s.items) : 'any'}`;
  if (s.type === 'object' && typeof s.additionalProperties === 'object') {
    return `map[string]${typeOf(s.additionalProperties)}`;
  }
  return s.type ?? 'any';
}

function constraints(s: OpenApiSchema): string[] {
  const out: string[] = [];
  const items = s.type === 'array' ? s.items : undefined;
  const values = s.enum ?? items?.enum;
  if (values) out.push(`one of ${values.map((v) => `\`${String(v)}\``).join(', ')}`);
  if (s.minimum !== undefined) out.push(`min ${s.minimum}`);
  if (s.maximum !== undefined) out.push(`max ${s.maximum}`);
  if (s.minItems !== undefined) out.push(`at least ${s.minItems} item(s)`);
  if (s.maxLength !== undefined) out.push(`at most ${s.maxLength} characters`);
  if (s.maxProperties !== undefined) out.push(`at most ${s.maxProperties} entries`);
  for (const rule of s['x-kubernetes-validations'] ?? []) {
    out.push(rule.message ?? rule.rule);
  }
  return out;
}

function cell(text: string): string {
  return text.replace(/\s+/g, ' ').replace(/\|/g, '\\|').trim();
}

function rows(s: OpenApiSchema, path: string, out: string[]): void {
  for (const [name, child] of Object.entries(s.properties ?? {})) {
    const field = path ? `${path}.${name}` : name;
    const required = s.required?.includes(name) ? ' (required)' : '';
    const def = child.default === undefined ? '' : `\`${JSON.stringify(child.default)}\``;
    const notes = constraints(child);
    const description = [child.description ?? '', notes.length ? `*${notes.join('; ')}.*` : '']
      .filter(Boolean)
      .join(' ');
    out.push(`| \`${field}\`${required} | ${typeOf(child)} | ${def} | ${cell(description)} |`);
    const next = child.type === 'array' ? child.items : child;
    if (next?.properties) {
      rows(next, child.type === 'array' ? `${field}[]` : field, out);
    }
  }
}

export function fieldReference(kind: CrdKind, part: 'spec' | 'status'): string {
  const out = ['| field | type | default | description |', '| --- | --- | --- | --- |'];
  rows(crdSchema(kind).properties![part], part, out);
  return out.join('\n');
}

const SECTIONS: [CrdKind, 'spec' | 'status'][] = [
  ['KafScaleCluster', 'spec'],
  ['KafScaleCluster', 'status'],
  ['KafScaleTopic', 'spec'],
  ['KafScaleTopic', 'status'],
];

export function generateDocs(current: string): string {
  let doc = current;
  for (const [kind, part] of SECTIONS) {
    const begin = `<!-- BEGIN GENERATED ${kind} ${part} -->`;
    const end = `<!-- END GENERATED ${kind} ${part} -->`;
    const from = doc.indexOf(begin);
    const to = doc.indexOf(end);
    if (from < 0 || to < from) {
      throw new Error(`docs/operator.md lacks the markers for ${kind} ${part}`);
    }
    doc = `${doc.slice(0, from + begin.length)}\n${fieldReference(kind, part)}\n${doc.slice(to)}`;
  }
  return doc;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(DOC_PATH, generateDocs(readFileSync(DOC_PATH, 'utf8')));
}
