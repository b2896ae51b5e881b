import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalObjectStore } from '../../src/storage/local-object-store.js';
import { ObjectNotFoundError } from '../../src/storage/object-store.js';
import { ReadReplicaObjectStore } from '../../src/storage/read-replica-object-store.js';

let dir: string;
let primary: LocalObjectStore;
let replica: LocalObjectStore;
let store: ReadReplicaObjectStore;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kfs-replica-'));
  primary = new LocalObjectStore(path.join(dir, 'primary'));
  replica = new LocalObjectStore(path.join(dir, 'replica'));
  store = new ReadReplicaObjectStore(primary, replica);
});
afterEach(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('writes go to the primary; reads come from the replica when it has the object', async () => {
  await store.put('ns/t/0/a.kfs', Buffer.from('primary bytes'));
  expect((await primary.get('ns/t/0/a.kfs')).toString()).toBe('primary bytes');
  await expect(replica.get('ns/t/0/a.kfs')).rejects.toThrow(ObjectNotFoundError);

  // Replication has copied it: the replica answers (here with different bytes, to tell them apart).
  await replica.put('ns/t/0/a.kfs', Buffer.from('replica bytes'));
  expect((await store.get('ns/t/0/a.kfs')).toString()).toBe('replica bytes');
  expect((await store.get('ns/t/0/a.kfs', { start: 0, end: 7 })).toString()).toBe('replica');
});

test('an object not replicated yet is read from the primary; a missing one is not found', async () => {
  await store.put('ns/t/0/b.kfs', Buffer.from('fresh'));
  expect((await store.get('ns/t/0/b.kfs')).toString()).toBe('fresh');
  await expect(store.get('ns/t/0/none.kfs')).rejects.toThrow(ObjectNotFoundError);
  expect((await store.list('ns/')).map((o) => o.key)).toEqual(['ns/t/0/b.kfs']);
  await store.delete(['ns/t/0/b.kfs']);
  await expect(primary.get('ns/t/0/b.kfs')).rejects.toThrow(ObjectNotFoundError);
});
