// Scenarios 1 and 2: the chart installs the operator, a KafScaleCluster becomes Ready with broker
// pods run as real processes, clients produce and consume through the bootstrap Service, and
// KafScaleTopic resources create, grow and delete topics.
import { consume, produce } from '../../../broker/test/support/clients.js';
import { eventually } from '../support/emulated-cluster.js';
import { startProduct, type ProductCluster } from '../support/product-cluster.js';

import { jest } from '@jest/globals';

jest.setTimeout(240_000);

let c: ProductCluster;

beforeAll(async () => {
  c = await startProduct();
});

afterAll(async () => {
  await c?.stop();
});

const records = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => ({
    key: Buffer.from(`k${i}`),
    value: Buffer.from(`${tag}-${i}`),
  }));

test('helm template | kubectl apply, then a sample cluster: Ready, and kcat and kafkajs produce and consume', async () => {
  await eventually(
    () => c.runner.pods('default').some((p) => p.name.startsWith('kafscale-') && p.ready),
    `operator pod ready\n${c.runner.logs()}`,
    60_000,
  );
  await c.applyCluster('demo');
  await c.waitReady('demo');
  const table = await c.ok(['get', 'kafscaleclusters']);
  expect(table).toMatch(/demo\s+True\s+1\s+kafscale-test/);
  const deployment = await c.getJson('deployment', 'demo-broker');
  expect(deployment.status.readyReplicas).toBe(1);

  const bootstrap = c.bootstrap('demo');
  const sent = await produce(
    'kcat',
    bootstrap,
    records(50, 'kcat').map((r) => ({ ...r, topic: 'e2e-kcat' })),
  );
  expect(sent).toHaveLength(50);
  const viaKafkajs = await consume('kcat', bootstrap, 'e2e-kcat');
  expect(viaKafkajs.records.map((r) => r.value?.toString())).toEqual(
    records(50, 'kcat').map((r) => r.value.toString()),
  );
  const js = await produce(
    'kafkajs',
    bootstrap,
    records(20, 'js').map((r) => ({ ...r, topic: 'e2e-js' })),
  );
  expect(js).toHaveLength(20);
  const back = await consume('confluent-kafka', bootstrap, 'e2e-js');
  expect(back.records).toHaveLength(20);
});
