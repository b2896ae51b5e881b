import { ClusterMetadata } from '../../src/metadata/cluster-metadata.js';
import { EtcdMetadataStore } from '../../src/metadata/etcd-metadata-store.js';
import { EtcdServer } from '../support/etcd.js';

let etcd: EtcdServer;
let store: EtcdMetadataStore;
let metadata: ClusterMetadata;
beforeAll(async () => {
  etcd = await EtcdServer.start();
  store = new EtcdMetadataStore({ endpoints: [etcd.endpoint] });
  metadata = await ClusterMetadata.open(store, 'large');
});
afterAll(async () => {
  await metadata.close();
  await store.close();
  await etcd.destroy();
});

// etcd refuses transactions of more than 128 operations by default.
test('topics with more partitions than one etcd transaction holds can be created and grown', async () => {
  const topic = await metadata.createTopic('wide', 1000, {});
  expect(topic?.partitions).toBe(1000);
  expect((await metadata.readPartition('wide', 999))?.state.highWatermark).toBe(0);

  expect(await metadata.createTopic('wide', 10, {})).toBeUndefined();
  // The refused second create did not touch the existing partitions.
  expect(await metadata.readPartition('wide', 10)).toBeDefined();

  const grown = await metadata.createPartitions('wide', 1300);
  expect(grown?.partitions).toBe(1300);
  expect((await metadata.readPartition('wide', 1299))?.state.highWatermark).toBe(0);
  // Growing never shrinks, whatever a racing request asked for.
  expect((await metadata.createPartitions('wide', 1100))?.partitions).toBe(1300);
}, 60_000);
