// The behaviour every ObjectStore promises, checked against each implementation on a real
// backend: a temp directory, and s3rver over HTTP.

import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LocalObjectStore } from '../../src/storage/local-object-store.js';
import { ObjectNotFoundError, type ObjectStore } from '../../src/storage/object-store.js';
import { S3ObjectStore } from '../../src/storage/s3-object-store.js';
import { startS3rver, type S3rver } from '../support/s3rver.js';

interface Backend {
  store: ObjectStore;
  /** The bytes the backend holds for key, read beside the store's API. */
  rawBytes(key: string): Promise<Buffer>;
  stop(): Promise<void>;
}

async function localBackend(): Promise<Backend> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'kfs-local-'));
  const store = new LocalObjectStore(root);
  return {
    store,
    rawBytes: (key) => readFile(path.join(root, key)),
    stop: async () => {
      await store.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

async function s3Backend(): Promise<Backend> {
  const server: S3rver = await startS3rver();
  const store = new S3ObjectStore(server.storeConfig());
  return {
    store,
    rawBytes: (key) => readFile(server.objectFile(key)),
    stop: async () => {
      await store.close();
      await server.stop();
    },
  };
}

describe.each([
  ['LocalObjectStore', localBackend],
  ['S3ObjectStore on s3rver', s3Backend],
])('%s', (_name, start) => {
  let backend: Backend;
  let store: ObjectStore;
  let prefix: string;
  let testNo = 0;

  beforeAll(async () => {
    backend = await start();
    store = backend.store;
  });
  afterAll(() => backend?.stop());
  // Tests share one backend; a prefix each keeps them apart.
  beforeEach(() => {
    prefix = `ns/t${++testNo}/0/`;
  });

  it('returns exactly the bytes put, and stores them unframed', async () => {
    const key = `${prefix}segment-00000000000000000000.kfs`;
    const body = randomBytes(64 * 1024 + 3);
    await store.put(key, body);
    expect((await store.get(key)).equals(body)).toBe(true);
    expect((await backend.rawBytes(key)).equals(body)).toBe(true);
  });

  it('stores empty and 5 MiB objects', async () => {
    const big = randomBytes(5 * 1024 * 1024);
    await store.put(`${prefix}empty`, Buffer.alloc(0));
    await store.put(`${prefix}big`, big);
    expect((await store.get(`${prefix}empty`)).length).toBe(0);
    expect((await store.get(`${prefix}big`)).equals(big)).toBe(true);
    expect((await backend.rawBytes(`${prefix}big`)).equals(big)).toBe(true);
  });

  it('stores a body given as parts as their concatenation', async () => {
    // Many small parts (indexes), large ones (segments) and empty ones, as a packed object has.
    const sizes = [
      0,
      12,
      300_000,
      ...Array.from({ length: 600 }, (_, i) => 28 + (i % 7)),
      70_000,
      1,
    ];
    const parts = sizes.map((n) => randomBytes(n));
    const whole = Buffer.concat(parts);
    await store.put(`${prefix}packed`, parts);
    await store.put(`${prefix}none`, []);
    expect((await backend.rawBytes(`${prefix}packed`)).equals(whole)).toBe(true);
    expect(
      (await store.get(`${prefix}packed`, { start: 5, end: 300_100 })).equals(
        whole.subarray(5, 300_100),
      ),
    ).toBe(true);
    expect((await store.get(`${prefix}none`)).length).toBe(0);
  });

  it('accepts a repeated put of the same key', async () => {
    const body = randomBytes(100);
    await store.put(`${prefix}k`, body);
    await store.put(`${prefix}k`, body);
    expect((await store.get(`${prefix}k`)).equals(body)).toBe(true);
  });

  it('reads byte ranges', async () => {
    const key = `${prefix}ranged`;
    const body = randomBytes(10_000);
    await store.put(key, body);
    for (const [start, end] of [
      [0, 1],
      [0, 10_000],
      [1234, 5678],
      [9_999, 10_000],
    ]) {
      expect((await store.get(key, { start, end })).equals(body.subarray(start, end))).toBe(true);
    }
    expect((await store.get(key, { start: 500, end: 500 })).length).toBe(0);
    expect((await store.get(key, { start: 10_000, end: 10_000 })).length).toBe(0);
  });

  it('rejects ranges outside the object or malformed', async () => {
    const key = `${prefix}short`;
    await store.put(key, randomBytes(100));
    await expect(store.get(key, { start: 50, end: 101 })).rejects.toThrow(RangeError);
    await expect(store.get(key, { start: 100, end: 110 })).rejects.toThrow(RangeError);
    await expect(store.get(key, { start: 101, end: 101 })).rejects.toThrow(RangeError);
    await expect(store.get(key, { start: 5, end: 4 })).rejects.toThrow(RangeError);
    await expect(store.get(key, { start: -1, end: 4 })).rejects.toThrow(RangeError);
  });

  it('reports absent objects as ObjectNotFoundError', async () => {
    const key = `${prefix}absent`;
    for (const read of [
      store.get(key),
      store.get(key, { start: 0, end: 10 }),
      store.get(key, { start: 0, end: 0 }),
    ]) {
      const error = await read.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ObjectNotFoundError);
      expect((error as ObjectNotFoundError).key).toBe(key);
    }
    // A "directory" that holds objects is not itself an object.
    await store.put(`${prefix}dir/inner`, Buffer.from('x'));
    await expect(store.get(`${prefix}dir`)).rejects.toBeInstanceOf(ObjectNotFoundError);
  });

  it('lists by prefix, recursively, in key order, with sizes', async () => {
    const keys = [
      `${prefix}b/segment-02.kfs`,
      `${prefix}a/segment-10.kfs`,
      `${prefix}a/segment-01.index`,
      `${prefix}a/segment-01.kfs`,
      `${prefix}a/deep/er/x`,
      `${prefix}ab`,
      `${prefix}top`,
    ];
    await Promise.all(keys.map((key, i) => store.put(key, Buffer.alloc(i * 7, i))));
    const all = await store.list(prefix);
    expect(all.map((o) => o.key)).toEqual([...keys].sort());
    for (const object of all) {
      expect(object.size).toBe(keys.indexOf(object.key) * 7);
      expect(Math.abs(object.lastModified.getTime() - Date.now())).toBeLessThan(60_000);
    }
    expect((await store.list(`${prefix}a`)).map((o) => o.key)).toEqual([
      `${prefix}a/deep/er/x`,
      `${prefix}a/segment-01.index`,
      `${prefix}a/segment-01.kfs`,
      `${prefix}a/segment-10.kfs`,
      `${prefix}ab`,
    ]);
    expect((await store.list(`${prefix}a/segment-0`)).map((o) => o.key)).toEqual([
      `${prefix}a/segment-01.index`,
      `${prefix}a/segment-01.kfs`,
    ]);
    expect(await store.list(`${prefix}nothing/`)).toEqual([]);
    expect(await store.list('no-such-namespace/')).toEqual([]);
    expect((await store.list('')).length).toBeGreaterThanOrEqual(keys.length);
  });

  it('deletes objects and ignores absent keys', async () => {
    const keys = [`${prefix}1`, `${prefix}2`, `${prefix}3`];
    await Promise.all(keys.map((key) => store.put(key, Buffer.from(key))));
    await store.delete([keys[0], keys[2], `${prefix}never-existed`]);
    expect((await store.list(prefix)).map((o) => o.key)).toEqual([keys[1]]);
    await expect(store.get(keys[0])).rejects.toBeInstanceOf(ObjectNotFoundError);
    await store.delete([keys[1]]);
    await store.delete([keys[1]]);
    await store.delete([]);
    expect(await store.list(prefix)).toEqual([]);
  });

  it('handles concurrent puts and reads', async () => {
    const bodies = Array.from({ length: 40 }, (_, i) => randomBytes(1000 + i * 997));
    const key = (i: number) => `${prefix}${i % 4}/segment-${String(i).padStart(20, '0')}.kfs`;
    await Promise.all(bodies.map((body, i) => store.put(key(i), body)));
    const read = await Promise.all(bodies.map((_, i) => store.get(key(i))));
    read.forEach((bytes, i) => expect(bytes.equals(bodies[i])).toBe(true));
    expect((await store.list(prefix)).length).toBe(bodies.length);
  });
});
