// LocalObjectStore behaviour beyond the shared contract: what a crash mid-write leaves behind,
// keys that would escape the root, and the request observer.

import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InvalidKeyError, LocalObjectStore } from '../../src/storage/local-object-store.js';
import { ObjectNotFoundError, type ObjectStoreOp } from '../../src/storage/object-store.js';

let parent: string;
let root: string;

beforeEach(async () => {
  // The root sits inside a scratch directory, so a key that escaped it would be visible.
  parent = await mkdtemp(path.join(os.tmpdir(), 'kfs-local-'));
  root = path.join(parent, 'root');
});
afterEach(() => rm(parent, { recursive: true, force: true }));

/** Every file under dir, relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

it('never shows a write interrupted by a crash under the final key', async () => {
  const key = 'ns/topic/0/segment-00000000000000000000.kfs';
  const dir = path.join(root, 'ns/topic/0');
  await mkdir(dir, { recursive: true });
  // What a crash between writing and renaming leaves: a partial temp file.
  await writeFile(path.join(dir, '.kfs-tmp-0123456789abcdef'), 'partial');

  const store = new LocalObjectStore(root);
  await expect(store.get(key)).rejects.toBeInstanceOf(ObjectNotFoundError);
  expect(await store.list('')).toEqual([]);

  await store.put(key, Buffer.from('complete'));
  expect((await store.get(key)).toString()).toBe('complete');
  expect((await store.list('ns/')).map((o) => o.key)).toEqual([key]);
});

it('leaves neither object nor temp file behind when a put fails', async () => {
  const store = new LocalObjectStore(root);
  // A directory where the object should go makes the final rename fail.
  await mkdir(path.join(root, 'a/b/c'), { recursive: true });
  await expect(store.put('a/b', Buffer.from('x'))).rejects.toThrow();
  expect(await filesUnder(root)).toEqual([]);
  await expect(store.get('a/b')).rejects.toBeInstanceOf(ObjectNotFoundError);
});

it('writes each object as one plain file under the root', async () => {
  const store = new LocalObjectStore(root);
  await store.put('x/y/z.kfs', Buffer.from('bytes'));
  await store.put('top', Buffer.from('t'));
  expect(await filesUnder(parent)).toEqual(['root/top', 'root/x/y/z.kfs']);
});

it('writes into a directory that was removed after an earlier put', async () => {
  const store = new LocalObjectStore(root);
  await store.put('p/0/a', Buffer.from('a'));
  await rm(path.join(root, 'p'), { recursive: true });
  await store.put('p/0/b', Buffer.from('b'));
  expect((await store.list('p/')).map((o) => o.key)).toEqual(['p/0/b']);
});

it.each([
  ['', /empty/],
  ['../outside', /"\.\." path segment/],
  ['a/../../outside', /"\.\." path segment/],
  ['/etc/passwd', /absolute/],
  ['a//b', /empty path segment/],
  ['a/', /empty path segment/],
  ['./a', /"\." path segment/],
  ['a\0b', /NUL/],
  ['a\\..\\b', /backslash/],
  ['a/.kfs-tmp-1', /reserved/],
])('rejects the key %j', async (key, reason) => {
  const store = new LocalObjectStore(root);
  for (const attempt of [
    store.put(key, Buffer.from('x')),
    store.get(key),
    store.delete(['fine', key]),
  ]) {
    const error = await attempt.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidKeyError);
    expect((error as Error).message).toMatch(reason);
  }
  await mkdir(root, { recursive: true });
  expect(await filesUnder(parent)).toEqual([]);
});

it('lists nothing for prefixes that leave the root', async () => {
  await writeFile(path.join(parent, 'secret'), 'x');
  const store = new LocalObjectStore(root);
  await store.put('a/b', Buffer.from('x'));
  expect(await store.list('../')).toEqual([]);
  expect(await store.list('a/../../')).toEqual([]);
  expect(await store.list('/')).toEqual([]);
});

it('orders keys by code point, as S3 does', async () => {
  const store = new LocalObjectStore(root);
  // UTF-16 order puts U+FF5E before U+1F600 (a surrogate pair); UTF-8 byte order does not.
  const keys = ['k/\u{1F600}', 'k/\uFF5E', 'k/z', 'k/Z'];
  await Promise.all(keys.map((key) => store.put(key, Buffer.from(key))));
  expect((await store.list('k/')).map((o) => o.key)).toEqual([
    'k/Z',
    'k/z',
    'k/\uFF5E',
    'k/\u{1F600}',
  ]);
});

it('reports every operation to the observer', async () => {
  const calls: [ObjectStoreOp, boolean][] = [];
  const store = new LocalObjectStore(root, {
    onRequest: (op, durationMs, error) => {
      expect(durationMs).toBeGreaterThanOrEqual(0);
      calls.push([op, error === undefined]);
    },
  });
  await store.put('o/a', Buffer.from('a'));
  await store.get('o/a');
  await store.list('o/');
  await store.delete(['o/a']);
  await store.get('o/a').catch(() => {});
  expect(calls).toEqual([
    ['put', true],
    ['get', true],
    ['list', true],
    ['delete', true],
    ['get', false],
  ]);
});
