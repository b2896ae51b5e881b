import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { clusterValidator, topicValidator } from '../../src/schema/index.js';
import { readYamlDocuments, REPO_ROOT } from '../support/samples.js';

const SAMPLES = join(REPO_ROOT, 'config', 'samples');

describe.each(readdirSync(SAMPLES).filter((f) => f.endsWith('.yaml')))(
  'config/samples/%s',
  (file) => {
    test('is valid against its CRD', () => {
      const docs = readYamlDocuments(join(SAMPLES, file));
      expect(docs.length).toBeGreaterThan(0);
      for (const doc of docs) {
        const validator = doc.kind === 'KafScaleCluster' ? clusterValidator() : topicValidator();
        expect(doc.apiVersion).toBe('kafscale.io/v1alpha1');
        expect(validator.validate(doc).issues).toEqual([]);
      }
    });
  },
);
