import { spawn } from 'node:child_process';
import { appendFile, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EmbeddedMetadataStore } from '../../src/metadata/embedded-metadata-store.js';
import type { MetadataStore, WatchEvent } from '../../src/metadata/metadata-store.js';
import { metadataStoreContract, waitFor } from './contract.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const dirs: string[] = [];
const dirOf = new Map<MetadataStore, string>();

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kafscale-meta-'));
  dirs.push(dir);
  return dir;
}

afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('EmbeddedMetadataStore contract', () => {
  metadataStoreContract({
    async open() {
      const dir = await tempDir();
      const store = await EmbeddedMetadataStore.open(dir);
      dirOf.set(store, dir);
      return { store, ns: 'ns/' };
    },
    async abandon(store) {
      await store.close();
      const reopened = await EmbeddedMetadataStore.open(dirOf.get(store)!);
      dirOf.set(reopened, dirOf.get(store)!);
      return reopened;
    },
  });
});

describe('EmbeddedMetadataStore durability', () => {
  test('every txn acknowledged before kill -9 is there after reopening', async () => {
    const dir = await tempDir();
    // A small compaction threshold makes the writer snapshot and truncate while being killed.
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(here, 'durability-writer.ts'), dir, '65536'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    let errors = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await waitFor(
      async () => output.split('\n').length,
      (lines) => lines > 3000 || child.exitCode !== null,
      30_000,
    );
    child.kill('SIGKILL');
    await exited;
    expect(errors).toBe('');
    const acknowledged = output.split('\n').filter((line) => line.startsWith('ack/'));
    expect(acknowledged.length).toBeGreaterThan(3000);

    const store = await EmbeddedMetadataStore.open(dir);
    try {
      const stored = new Set((await store.getPrefix('ack/')).map((kv) => kv.key));
      const missing = acknowledged.filter((key) => !stored.has(key));
      expect(missing).toEqual([]);
      // The writer's lease died with it.
      expect(await store.getPrefix('leased/')).toEqual([]);
    } finally {
      await store.close();
    }
  });

  test('a torn or corrupt final log record is ignored and overwritten', async () => {
    const dir = await tempDir();
    const log = path.join(dir, 'metadata.wal');
    let store = await EmbeddedMetadataStore.open(dir);
    await store.put('a', '1');
    const revision = await store.put('b', '2');
    await store.close();
    const intact = (await stat(log)).size;

    // A record header promising more bytes than were written before the crash.
    const torn = Buffer.alloc(12);
    torn.writeUInt32LE(100, 0);
    await appendFile(log, torn);
    store = await EmbeddedMetadataStore.open(dir);
    expect(await store.getPrefix('')).toMatchObject([{ key: 'a' }, { key: 'b' }]);
    expect((await stat(log)).size).toBe(intact);
    expect(await store.put('c', '3')).toBe(revision + 1);
    await store.close();

    // A complete record whose checksum does not match its payload.
    const bad = Buffer.from('{"rev":99,"changes":[["x","y"]]}');
    const header = Buffer.alloc(8);
    header.writeUInt32LE(bad.length, 0);
    header.writeUInt32LE(12345, 4);
    await appendFile(log, Buffer.concat([header, bad]));
    store = await EmbeddedMetadataStore.open(dir);
    expect((await store.getPrefix('')).map((kv) => kv.value)).toEqual(['1', '2', '3']);
    await store.close();
  });

  test('compaction writes a snapshot, truncates the log and keeps every key', async () => {
    const dir = await tempDir();
    let store = await EmbeddedMetadataStore.open(dir, { compactBytes: 4096 });
    for (let round = 0; round < 5; round++) {
      await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          store.put(`k/${String(i).padStart(3, '0')}`, `${round}`),
        ),
      );
    }
    await store.delete('k/000');
    const before = await store.getPrefix('');
    const revision = (await store.txn([], [])).revision;
    await store.close();
    expect((await stat(path.join(dir, 'metadata.snapshot'))).size).toBeGreaterThan(0);
    expect((await stat(path.join(dir, 'metadata.wal'))).size).toBeLessThan(4096 * 2);

    store = await EmbeddedMetadataStore.open(dir, { compactBytes: 4096 });
    expect(await store.getPrefix('')).toEqual(before);
    expect(before).toHaveLength(199);
    expect(before[0]).toMatchObject({ key: 'k/001', value: '4', version: 5 });
    expect(await store.put('k/new', 'x')).toBe(revision + 1);
    await store.close();
  });

  test('leases of the previous process are dropped on open, other keys stay', async () => {
    const dir = await tempDir();
    let store = await EmbeddedMetadataStore.open(dir);
    const lease = await store.grantLease(60);
    await store.put('brokers/1', 'alive', lease.id);
    await store.put('topics/t', 'config');
    await store.close();
    store = await EmbeddedMetadataStore.open(dir);
    expect((await store.getPrefix('')).map((kv) => kv.key)).toEqual(['topics/t']);
    await expect(store.put('brokers/1', 'again', lease.id)).rejects.toThrow(/lease/);
    // History before this process is gone; a watch cannot start there.
    await expect(store.watchPrefix('', () => undefined, 1)).rejects.toThrow(/compacted/);
    await store.close();
  });

  test('a lease expires when the process stalls for longer than its TTL', async () => {
    const dir = await tempDir();
    const store = await EmbeddedMetadataStore.open(dir);
    const lease = await store.grantLease(1);
    await store.put('owner', 'me', lease.id);
    const events: WatchEvent[] = [];
    await store.watchPrefix('owner', (batch) => events.push(...batch));
    let lost = false;
    lease.onLost(() => (lost = true));
    const until = Date.now() + 1500;
    while (Date.now() < until) {
      // Busy-wait: nothing else runs, as in a long GC pause.
    }
    await waitFor(
      async () => lost && (await store.get('owner')) === undefined,
      (done) => done,
      2000,
    );
    expect(events.map((e) => e.type)).toEqual(['delete']);
    await store.close();
  });

  test('a data directory can be open in only one store at a time', async () => {
    const dir = await tempDir();
    const store = await EmbeddedMetadataStore.open(dir);
    await expect(EmbeddedMetadataStore.open(dir)).rejects.toThrow(/already open/);
    await store.close();
    const again = await EmbeddedMetadataStore.open(dir);
    await again.close();
    expect(await readFile(path.join(dir, 'metadata.wal'))).toBeDefined();
  });
});
