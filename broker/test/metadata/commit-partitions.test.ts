// Commits of several partitions in one transaction, each fenced on its own partition's revision,
// against both metadata stores.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ClusterMetadata, type PartitionCommit } from '../../src/metadata/cluster-metadata.js';
import { EmbeddedMetadataStore } from '../../src/metadata/embedded-metadata-store.js';
import { EtcdMetadataStore } from '../../src/metadata/etcd-metadata-store.js';
import type { MetadataStore } from '../../src/metadata/metadata-store.js';
import type { SegmentRecord } from '../../src/metadata/model.js';
import { EtcdServer } from '../support/etcd.js';

interface Fixture {
  store: MetadataStore;
  close(): Promise<void>;
}

const fixtures: [string, () => Promise<Fixture>][] = [
  [
    'embedded',
    async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'kfs-commit-'));
      const store = await EmbeddedMetadataStore.open(dir);
      return {
        store,
        close: async () => {
          await store.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  ],
  [
    'etcd',
    async () => {
      const etcd = await EtcdServer.start();
      const store = new EtcdMetadataStore({ endpoints: [etcd.endpoint] });
      return {
        store,
        close: async () => {
          await store.close();
          await etcd.destroy();
        },
      };
    },
  ],
];

function segment(baseOffset: number, lastOffset: number): SegmentRecord {
  return {
    key: `k-${baseOffset}`,
    indexKey: `i-${baseOffset}`,
    baseOffset,
    lastOffset,
    dataStart: 32,
    dataEnd: 64,
    maxTimestamp: 0,
    createdAt: 0,
  };
}

describe.each(fixtures)('commitPartitions (%s)', (_name, start) => {
  let fixture: Fixture;
  let metadata: ClusterMetadata;
  beforeAll(async () => {
    fixture = await start();
    metadata = await ClusterMetadata.open(fixture.store, 'commits');
  }, 30_000);
  afterAll(async () => {
    await metadata.close();
    await fixture.close();
  });

  async function commitsFor(topic: string, partitions: number): Promise<PartitionCommit[]> {
    return Promise.all(
      Array.from({ length: partitions }, async (_, p) => {
        const current = (await metadata.readPartition(topic, p))!;
        return {
          topic,
          partition: p,
          expectedRevision: current.modRevision,
          state: { ...current.state, highWatermark: current.state.highWatermark + 10 },
          addSegments: [segment(current.state.highWatermark, current.state.highWatermark + 9)],
        };
      }),
    );
  }

  test('partitions committed together share one transaction (one revision)', async () => {
    await metadata.createTopic('together', 3, {});
    const before = await fixture.store.get(metadata.partitionKey('together', 0));
    const revisions = await metadata.commitPartitions(await commitsFor('together', 3));
    expect(new Set(revisions).size).toBe(1);
    expect(revisions[0]).toBeGreaterThan(before!.modRevision);
    for (let p = 0; p < 3; p++) {
      const current = await metadata.readPartition('together', p);
      expect(current).toMatchObject({ modRevision: revisions[0], state: { highWatermark: 10 } });
      expect(await metadata.readSegments('together', p)).toEqual([segment(0, 9)]);
    }
  });

  test('a fenced partition fails alone; the others commit', async () => {
    await metadata.createTopic('fenced', 3, {});
    const commits = await commitsFor('fenced', 3);
    // Another writer took partition 1 meanwhile (its revision moved on).
    const current = (await metadata.readPartition('fenced', 1))!;
    await metadata.commitPartition(
      'fenced',
      1,
      current.modRevision,
      { ...current.state, leaderEpoch: current.state.leaderEpoch + 1 },
      [],
    );
    const revisions = await metadata.commitPartitions(commits);
    expect(revisions[0]).toBeDefined();
    expect(revisions[1]).toBeUndefined();
    expect(revisions[2]).toBeDefined();
    expect((await metadata.readPartition('fenced', 0))!.state.highWatermark).toBe(10);
    expect((await metadata.readPartition('fenced', 1))!.state.highWatermark).toBe(0);
    expect(await metadata.readSegments('fenced', 1)).toEqual([]);
    expect((await metadata.readPartition('fenced', 2))!.state.highWatermark).toBe(10);
  });

  test('a range of manifest entries is removed in one operation, whatever its length', async () => {
    await metadata.createTopic('ranged', 1, {});
    let current = (await metadata.readPartition('ranged', 0))!;
    // 300 one-offset entries (in three commits of 100), then one commit replacing 1..299 by a
    // single entry at 0 and keeping the entry after the range.
    for (let from = 0; from < 300; from += 100) {
      const added = Array.from({ length: 100 }, (_, i) => segment(from + i, from + i));
      const revision = await metadata.commitPartition(
        'ranged',
        0,
        current.modRevision,
        { ...current.state, highWatermark: from + 100 },
        added,
      );
      expect(revision).toBeDefined();
      current = (await metadata.readPartition('ranged', 0))!;
    }
    const tail = segment(300, 309);
    current = (await metadata.readPartition('ranged', 0))!;
    expect(
      await metadata.commitPartition(
        'ranged',
        0,
        current.modRevision,
        { ...current.state, highWatermark: 310 },
        [tail],
      ),
    ).toBeDefined();
    current = (await metadata.readPartition('ranged', 0))!;
    const replacement = { ...segment(0, 299), key: 'compacted' };
    const revision = await metadata.commitPartition(
      'ranged',
      0,
      current.modRevision,
      current.state,
      [replacement],
      { from: 1, to: 300 },
    );
    expect(revision).toBeDefined();
    expect(await metadata.readSegments('ranged', 0)).toEqual([replacement, tail]);
  }, 30_000);

  test('more operations than one etcd transaction holds are split', async () => {
    await metadata.createTopic('wide', 100, {});
    // 100 partitions x (state + segment) = 200 operations: two transactions of at most 128.
    const revisions = await metadata.commitPartitions(await commitsFor('wide', 100));
    expect(revisions.every((r) => r !== undefined)).toBe(true);
    expect(new Set(revisions).size).toBe(2);
    for (const p of [0, 63, 64, 99]) {
      expect((await metadata.readPartition('wide', p))!.state.highWatermark).toBe(10);
    }
  }, 30_000);
});
