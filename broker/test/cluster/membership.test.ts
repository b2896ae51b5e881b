import { Membership } from '../../src/cluster/membership.js';
import { ClusterMetadata } from '../../src/metadata/cluster-metadata.js';
import { EtcdMetadataStore } from '../../src/metadata/etcd-metadata-store.js';
import { silentLogger } from '../../src/logger.js';
import { EtcdServer } from '../support/etcd.js';

let etcd: EtcdServer;
let store: EtcdMetadataStore;
let metadata: ClusterMetadata;
beforeAll(async () => {
  etcd = await EtcdServer.start();
  store = new EtcdMetadataStore({ endpoints: [etcd.endpoint], requestTimeoutMs: 1000 });
  metadata = await ClusterMetadata.open(store, 'membership-test');
});
afterAll(async () => {
  await metadata.close();
  await store.close();
  await etcd.destroy();
});

const host = { host: '127.0.0.1', port: 1, rack: null };

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('brokers without a configured id claim the lowest free ids and see each other', async () => {
  const a = await Membership.join(
    metadata,
    await store.grantLease(5),
    { ...host, nodeId: null },
    silentLogger(),
    5,
  );
  const b = await Membership.join(
    metadata,
    await store.grantLease(5),
    { ...host, nodeId: null },
    silentLogger(),
    5,
  );
  expect([a.self.nodeId, b.self.nodeId]).toEqual([0, 1]);
  await until(() => a.brokerIds().length === 2 && b.brokerIds().length === 2);
  await b.leave();
  await until(() => a.brokerIds().length === 1);
  // The released id is free again.
  const c = await Membership.join(
    metadata,
    await store.grantLease(5),
    { ...host, nodeId: null },
    silentLogger(),
    5,
  );
  expect(c.self.nodeId).toBe(1);
  await a.leave();
  await c.leave();
});

test('a broker whose lease expired during an etcd outage registers again by itself', async () => {
  const ttl = 2;
  const m = await Membership.join(
    metadata,
    await store.grantLease(ttl),
    { ...host, nodeId: 42 },
    silentLogger(),
    ttl,
  );
  const firstLease = m.lease.id;
  let changes = 0;
  m.onChange(() => changes++);

  await etcd.stop();
  await until(() => !m.isLive, 15_000);
  await etcd.restart();

  await until(() => m.isLive && m.lease.id !== firstLease);
  const registered = await store.get(metadata.brokerKey(42));
  expect(registered?.lease).toBe(m.lease.id);
  expect(changes).toBeGreaterThanOrEqual(2);
  await m.leave();
}, 60_000);
