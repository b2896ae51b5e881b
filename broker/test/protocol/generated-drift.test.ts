import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateAll } from '../../scripts/generate-protocol.js';
import { DEFINITIONS_DIR, definitionsPresent } from './definitions.js';

const generatedDir = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../src/protocol/generated',
);

// The committed codecs must be exactly what the generator produces from the definitions.
(definitionsPresent ? test : test.skip)('generated codecs match the generator output', async () => {
  const files = await generateAll(DEFINITIONS_DIR);
  const committed = fs.readdirSync(generatedDir).sort();
  expect(committed).toEqual([...files.keys()].sort());
  for (const [name, text] of files) {
    expect({ name, text: fs.readFileSync(path.join(generatedDir, name), 'utf8') }).toEqual({
      name,
      text,
    });
  }
});
