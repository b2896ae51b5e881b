import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '../../src/config.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

test('every KAFSCALE_* variable the broker reads is documented in docs/configuration.md', () => {
  const sources: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory() && entry.name !== 'generated') walk(full);
      else if (entry.name.endsWith('.ts')) sources.push(fs.readFileSync(full, 'utf8'));
    }
  };
  walk(path.join(root, 'broker/src'));
  const used = new Set(sources.join('\n').match(/KAFSCALE_[A-Z0-9_]*[A-Z0-9]\b/g));
  const docs = fs.readFileSync(path.join(root, 'docs/configuration.md'), 'utf8');
  expect([...used].filter((v) => !docs.includes(`\`${v}\``)).sort()).toEqual([]);
  expect(used.size).toBeGreaterThan(40);
});

test('defaults: a single node on 127.0.0.1:9092 with data in ./data', () => {
  const config = loadConfig({});
  expect(config).toMatchObject({
    listenHost: '127.0.0.1',
    listenPort: 9092,
    dataDir: './data',
    brokerId: null,
    autoCreateTopics: true,
    produceSyncFlush: true,
  });
  expect(config.s3.bucket).toBeNull();
  expect(config.etcd.endpoints).toEqual([]);
});

test.each([
  ['KAFSCALE_BROKER_PORT', '99999', /KAFSCALE_BROKER_PORT must be between 0 and 65535/],
  ['KAFSCALE_AUTO_CREATE_TOPICS', 'maybe', /KAFSCALE_AUTO_CREATE_TOPICS must be true or false/],
  ['KAFSCALE_ETCD_ENDPOINTS', 'not a url', /KAFSCALE_ETCD_ENDPOINTS has an invalid endpoint/],
  ['KAFSCALE_BROKER_ADDR', 'nohost', /KAFSCALE_BROKER_ADDR must be host:port/],
  ['KAFSCALE_S3_SSE', 'rot13', /KAFSCALE_S3_SSE must be none, AES256 or aws:kms/],
  ['KAFSCALE_LOG_LEVEL', 'loud', /KAFSCALE_LOG_LEVEL must be/],
])('%s=%s is refused with a message naming it', (name, value, message) => {
  expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
  expect(() => loadConfig({ [name]: value })).toThrow(message);
});
