// SASL over TLS (SASL_SSL) on a broker with the embedded metadata store, whose user was added
// with the CLI before the broker started (the embedded store admits one process at a time).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BrokerProcess } from '../support/broker-process.js';
import { TestCa } from './certs.js';
import { kafscale } from './cli.js';
import { kafkajsRoundTrip, kcatRoundTrip, pem } from './secure-clients.js';

const PASSWORD = 'carol-over-tls';

let dir: string;
let ca: TestCa;
let broker: BrokerProcess;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kafscale-sasl-ssl-'));
  ca = new TestCa(dir);
  const server = ca.issue('broker', 'kafscale-broker');
  const dataDir = path.join(dir, 'data');
  const added = await kafscale(
    ['users', 'add', 'carol', '--password-stdin'],
    { KAFSCALE_DATA_DIR: dataDir },
    `${PASSWORD}\n`,
  );
  expect(added.code).toBe(0);
  broker = await BrokerProcess.start({
    dataDir,
    env: {
      KAFSCALE_TLS_ENABLED: 'true',
      KAFSCALE_TLS_CERT_FILE: server.cert,
      KAFSCALE_TLS_KEY_FILE: server.key,
      KAFSCALE_SASL_ENABLED: 'true',
      KAFSCALE_SASL_MECHANISMS: 'SCRAM-SHA-512,PLAIN',
      KAFSCALE_METRICS_ADDR: 'off',
      KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
    },
  });
}, 60_000);

afterAll(async () => {
  await broker?.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('kafkajs produces and consumes with SCRAM-SHA-512 over TLS', async () => {
  const values = Array.from({ length: 20 }, (_, i) => `sasl-ssl-${i}`);
  const config = {
    brokers: [broker.bootstrap],
    ssl: { ca: [pem(ca.cert)] },
    sasl: { mechanism: 'scram-sha-512', username: 'carol', password: PASSWORD } as const,
  };
  expect(await kafkajsRoundTrip(config, 'sasl-ssl-kafkajs', values)).toEqual(values);
});

test('kcat produces and consumes with PLAIN over TLS', async () => {
  const values = ['plain-over-tls-1', 'plain-over-tls-2'];
  const props = {
    'security.protocol': 'sasl_ssl',
    'ssl.ca.location': ca.cert,
    'sasl.mechanism': 'PLAIN',
    'sasl.username': 'carol',
    'sasl.password': PASSWORD,
  };
  expect(await kcatRoundTrip(broker.bootstrap, 'sasl-ssl-kcat', values, props)).toEqual(values);
});
