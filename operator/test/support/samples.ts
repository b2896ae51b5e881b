import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { KafScaleCluster } from '../../src/api/v1alpha1.js';
import { clusterValidator } from '../../src/schema/index.js';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export function readYamlDocuments(path: string): Record<string, unknown>[] {
  return parseAllDocuments(readFileSync(path, 'utf8'))
    .map((d) => d.toJS() as Record<string, unknown> | null)
    .filter((d): d is Record<string, unknown> => d !== null);
}

/** A sample from config/samples as the API server would store it: namespaced, with a uid, defaulted. */
export function sampleCluster(file: string, namespace = 'streaming'): KafScaleCluster {
  const [doc] = readYamlDocuments(join(REPO_ROOT, 'config', 'samples', file));
  const meta = doc.metadata as Record<string, unknown>;
  const stored = {
    ...doc,
    metadata: { ...meta, namespace, uid: `uid-of-${String(meta.name)}`, generation: 1 },
  };
  const result = clusterValidator().validate(stored);
  if (!result.valid) {
    throw new Error(`${file}: ${JSON.stringify(result.issues)}`);
  }
  return result.object;
}
