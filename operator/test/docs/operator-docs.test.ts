import { readFileSync } from 'node:fs';
import { DOC_PATH, generateDocs } from '../../scripts/generate-docs.js';
import { crdSchema, type OpenApiSchema } from '../../src/schema/index.js';

function fieldPaths(s: OpenApiSchema, path: string, out: string[] = []): string[] {
  for (const [name, child] of Object.entries(s.properties ?? {})) {
    const field = `${path}.${name}`;
    out.push(field);
    const next = child.type === 'array' ? child.items : child;
    if (next) fieldPaths(next, child.type === 'array' ? `${field}[]` : field, out);
  }
  return out;
}

describe('docs/operator.md', () => {
  const doc = readFileSync(DOC_PATH, 'utf8');

  test('has the field reference generate-docs.ts produces from the CRDs now', () => {
    expect(doc).toBe(generateDocs(doc));
  });

  test('documents every field of both resources', () => {
    for (const kind of ['KafScaleCluster', 'KafScaleTopic'] as const) {
      for (const part of ['spec', 'status'] as const) {
        for (const field of fieldPaths(crdSchema(kind).properties![part], part)) {
          expect(doc).toContain(`| \`${field}\``);
        }
      }
    }
  });

  test('documents the status conditions, install, upgrade, scale and backup', () => {
    for (const heading of [
      '## Install',
      '## Upgrade',
      '## Scale',
      '## Back up and restore',
      '## Status conditions',
    ]) {
      expect(doc).toContain(heading);
    }
    for (const condition of ['Ready', 'Progressing', 'Degraded', 'EtcdSnapshotAccess']) {
      expect(doc).toContain(`| \`${condition}\` |`);
    }
    for (const reason of [
      'TopicReady',
      'InvalidSpec',
      'PartitionsCannotShrink',
      'ClusterNotFound',
      'EtcdUnavailable',
    ]) {
      expect(doc).toContain(`| \`${reason}\` |`);
    }
    expect(doc).toContain('kubectl scale kafscalecluster NAME --replicas=5');
  });
});
