import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { IMAGE_ENV } from '../support/broker-process.js';

const DOCKERFILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../Dockerfile');

/** NAME=value pairs of the ENV instructions in the Dockerfile's last stage (the runtime image). */
function runtimeEnv(text: string): Record<string, string> {
  const instructions = text.replace(/\\\n/g, ' ').split('\n');
  const lastStage = instructions.map((l) => l.trim()).filter((l) => /^FROM\s/i.test(l)).length;
  const env: Record<string, string> = {};
  let stage = 0;
  for (const line of instructions.map((l) => l.trim())) {
    if (/^FROM\s/i.test(line)) stage++;
    if (stage !== lastStage || !/^ENV\s/i.test(line)) continue;
    for (const [, name, value] of line.slice(4).matchAll(/([A-Za-z_][A-Za-z0-9_]*)=(\S+)/g)) {
      env[name] = value;
    }
  }
  return env;
}

test('brokers started by the tests get the environment the image sets', () => {
  const env = runtimeEnv(fs.readFileSync(DOCKERFILE, 'utf8'));
  expect(env).toMatchObject(IMAGE_ENV);
  expect(env['KAFSCALE_BROKER_ADDR']).toBe('0.0.0.0:9092');
});
