import { EtcdMetadataStore } from '../../src/metadata/etcd-metadata-store.js';
import { MetadataUnavailableError, type WatchEvent } from '../../src/metadata/metadata-store.js';
import { EtcdServer } from '../support/etcd.js';
import { metadataStoreContract, waitFor } from './contract.js';

let etcd: EtcdServer;
let testNumber = 0;

beforeAll(async () => {
  etcd = await EtcdServer.start();
});

afterAll(async () => {
  await etcd.destroy();
});

function connect(requestTimeoutMs = 2000): EtcdMetadataStore {
  return new EtcdMetadataStore({
    endpoints: [etcd.endpoint],
    requestTimeoutMs,
    dialTimeoutMs: 2000,
  });
}

describe('EtcdMetadataStore contract', () => {
  metadataStoreContract({
    async open() {
      return { store: connect(), ns: `test-${++testNumber}/` };
    },
    async abandon(store) {
      await store.close();
      return connect();
    },
  });
});

describe('EtcdMetadataStore when etcd goes away', () => {
  test('calls fail within the request timeout while etcd is down and work after it returns', async () => {
    const store = connect(1000);
    try {
      await store.put('outage/before', '1');
      await etcd.stop();
      const calls = {
        get: () => store.get('outage/before'),
        getPrefix: () => store.getPrefix('outage/'),
        put: () => store.put('outage/during', '2'),
        delete: () => store.delete('outage/before'),
        txn: () => store.txn([], [{ type: 'put', key: 'outage/during', value: '2' }]),
        grantLease: () => store.grantLease(5),
        watchPrefix: () => store.watchPrefix('outage/', () => undefined),
      };
      for (const [name, call] of Object.entries(calls)) {
        const started = Date.now();
        const error = await call().then(
          () => undefined,
          (e: unknown) => e,
        );
        const elapsed = Date.now() - started;
        expect({ name, unavailable: error instanceof MetadataUnavailableError }).toEqual({
          name,
          unavailable: true,
        });
        // Bounded, not hanging: watchPrefix by the dial timeout (2 s), the others by the request
        // timeout (1 s); the margin absorbs a loaded machine.
        expect(elapsed).toBeLessThan(name === 'watchPrefix' ? 10_000 : 8_000);
      }
      await etcd.restart();
      await waitFor(
        () =>
          store.put('outage/after', '3').then(
            () => true,
            () => false,
          ),
        (ok) => ok,
        5000,
      );
      expect((await store.getPrefix('outage/')).map((kv) => kv.key)).toEqual([
        'outage/after',
        'outage/before',
      ]);
    } finally {
      await store.close();
      await etcd.restart().catch(() => undefined);
    }
  });

  test('a watch resumes after an etcd restart without losing or repeating events', async () => {
    const watching = connect();
    const writer = connect();
    const seen: WatchEvent[] = [];
    try {
      const watch = await watching.watchPrefix('resume/', (events) => seen.push(...events));
      for (let i = 0; i < 5; i++) await writer.put(`resume/${i}`, `${i}`);
      await waitFor(
        async () => seen.length,
        (n) => n === 5,
        5000,
      );
      await etcd.stop();
      await etcd.restart();
      // Written while the watcher is still reconnecting: it must pick them up from history.
      await waitFor(
        () =>
          writer.put('resume/5', '5').then(
            () => true,
            () => false,
          ),
        (ok) => ok,
        5000,
      );
      for (let i = 6; i < 10; i++) await writer.put(`resume/${i}`, `${i}`);
      await writer.delete('resume/0');
      await waitFor(
        async () => seen.length,
        (n) => n >= 11,
        10_000,
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(seen.map((e) => `${e.type} ${e.key}`)).toEqual([
        ...Array.from({ length: 10 }, (_, i) => `put resume/${i}`),
        'delete resume/0',
      ]);
      const revisions = seen.map((e) => e.modRevision);
      expect(new Set(revisions).size).toBe(revisions.length);
      expect([...revisions].sort((a, b) => a - b)).toEqual(revisions);
      await watch.cancel();
    } finally {
      await watching.close();
      await writer.close();
    }
  });

  test('a lease is reported lost within its TTL when etcd stays unreachable', async () => {
    const store = connect(1000);
    try {
      const lease = await store.grantLease(2);
      let lostAfter: number | undefined;
      const stoppedAt = Date.now();
      lease.onLost(() => (lostAfter = Date.now() - stoppedAt));
      await etcd.stop();
      await waitFor(
        async () => lostAfter,
        (v) => v !== undefined,
        5000,
      );
      expect(lostAfter).toBeLessThanOrEqual(2000);
    } finally {
      await etcd.restart();
      await store.close();
    }
  });
});
