// Range reads of the same object in the same turn of the event loop share one GET.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  CoalescingObjectStore,
  MAX_COALESCED_BYTES,
  MAX_COALESCED_GAP_BYTES,
} from '../../src/storage/coalescing-object-store.js';
import { LocalObjectStore } from '../../src/storage/local-object-store.js';
import type { ByteRange } from '../../src/storage/object-store.js';

let dir: string;
let inner: LocalObjectStore;
let store: CoalescingObjectStore;
let gets: { key: string; range?: ByteRange }[];
let failGets: boolean;
const body = Buffer.alloc(2 * MAX_COALESCED_BYTES);
for (let i = 0; i < body.length; i++) body[i] = (i * 31 + (i >> 8)) & 0xff;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'kfs-coalesce-'));
  inner = new LocalObjectStore(dir);
  await inner.put('a', body);
  await inner.put('b', body.subarray(0, 1000));
  gets = [];
  failGets = false;
  const get = inner.get.bind(inner);
  inner.get = (key, range) => {
    gets.push({ key, range });
    return failGets ? Promise.reject(new Error('injected GET failure')) : get(key, range);
  };
  store = new CoalescingObjectStore(inner);
});

afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const slice = (r: ByteRange) => body.subarray(r.start, r.end);

test('nearby ranges of one object asked for together are read with one GET', async () => {
  const ranges = [
    { start: 5000, end: 9000 },
    { start: 100, end: 4000 },
    { start: 4048, end: 4900 }, // a gap of 48 bytes, as between two segments of a packed object
  ];
  const read = await Promise.all(ranges.map((r) => store.get('a', r)));
  expect(gets).toEqual([{ key: 'a', range: { start: 100, end: 9000 } }]);
  read.forEach((data, i) => expect(data).toEqual(slice(ranges[i])));
});

test('ranges far apart, of other objects or asked for later get GETs of their own', async () => {
  const near = { start: 0, end: 1000 };
  const far = { start: 1000 + MAX_COALESCED_GAP_BYTES + 1, end: 200_000 };
  const other = { start: 0, end: 500 };
  const [a, b, c] = await Promise.all([
    store.get('a', near),
    store.get('a', far),
    store.get('b', other),
  ]);
  expect(a).toEqual(slice(near));
  expect(b.equals(slice(far))).toBe(true);
  expect(c).toEqual(body.subarray(0, 500));
  expect(gets).toHaveLength(3);
  // Asked for in a later turn: not held back for the earlier GET.
  await store.get('a', { start: 10, end: 20 });
  expect(gets).toHaveLength(4);
});

test('one GET reads at most MAX_COALESCED_BYTES', async () => {
  const half = MAX_COALESCED_BYTES / 2;
  const ranges = [0, 1, 2].map((i) => ({ start: i * half, end: (i + 1) * half }));
  const read = await Promise.all(ranges.map((r) => store.get('a', r)));
  expect(gets.map((g) => g.range)).toEqual([
    { start: 0, end: MAX_COALESCED_BYTES },
    { start: MAX_COALESCED_BYTES, end: MAX_COALESCED_BYTES + half },
  ]);
  // Buffer.equals: jest's toEqual walks 16 MiB byte by byte for minutes.
  read.forEach((data, i) => expect(data.equals(slice(ranges[i]))).toBe(true));
});

test('a failed GET fails every read it carried; whole-object reads pass straight through', async () => {
  failGets = true;
  const reads = [store.get('a', { start: 0, end: 10 }), store.get('a', { start: 20, end: 30 })];
  for (const r of reads) await expect(r).rejects.toThrow('injected GET failure');
  expect(gets).toHaveLength(1);
  failGets = false;
  expect(await store.get('b')).toEqual(body.subarray(0, 1000));
  expect(gets[1]).toEqual({ key: 'b', range: undefined });
});
