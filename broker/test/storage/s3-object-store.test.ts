// S3ObjectStore behaviour that only a network can show: retries, failure reporting, timeouts,
// the concurrency bound and the request observer, against s3rver behind a fault proxy.

import { randomBytes } from 'node:crypto';
import type { ObjectStoreOp } from '../../src/storage/object-store.js';
import { ObjectNotFoundError } from '../../src/storage/object-store.js';
import {
  ObjectStoreRequestError,
  S3ObjectStore,
  type S3ObjectStoreConfig,
} from '../../src/storage/s3-object-store.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { startS3rver, type S3rver } from '../support/s3rver.js';

interface Call {
  op: ObjectStoreOp;
  durationMs: number;
  error?: unknown;
}

let server: S3rver;
let proxy: FaultProxy;
const stores: S3ObjectStore[] = [];
let calls: Call[];

beforeAll(async () => {
  server = await startS3rver();
  proxy = await FaultProxy.start(server.endpoint);
});
afterAll(async () => {
  await proxy?.close();
  await server?.stop();
});
beforeEach(async () => {
  calls = [];
  await proxy.accept();
  proxy.heal();
  proxy.resetStats();
});
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

/** A store talking to s3rver through the proxy, with quick retries and a call log. */
function proxiedStore(overrides: Partial<S3ObjectStoreConfig> = {}): S3ObjectStore {
  const store = new S3ObjectStore(
    server.storeConfig({
      endpoint: proxy.endpoint,
      retryBaseDelayMs: 10,
      retryMaxDelayMs: 50,
      onRequest: (op, durationMs, error) => calls.push({ op, durationMs, error }),
      ...overrides,
    }),
  );
  stores.push(store);
  return store;
}

async function failure(promise: Promise<unknown>): Promise<ObjectStoreRequestError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ObjectStoreRequestError);
  return error as ObjectStoreRequestError;
}

it('sends a body given as parts whole again on every attempt', async () => {
  const store = proxiedStore({ maxAttempts: 3 });
  const parts = [randomBytes(200_000), randomBytes(40), randomBytes(90_000)];
  proxy.failNext(2, 503);
  await store.put('retry/parts', parts);
  expect(proxy.stats).toMatchObject({ requests: 3, failed: 2 });
  expect((await store.get('retry/parts')).equals(Buffer.concat(parts))).toBe(true);
});

it('retries 5xx answers until the request succeeds', async () => {
  const store = proxiedStore({ maxAttempts: 4 });
  const body = randomBytes(300_000);
  proxy.failNext(3, 503);
  await store.put('retry/put', body);
  expect(proxy.stats).toMatchObject({ requests: 4, failed: 3 });

  proxy.failNext(2, 500);
  expect((await store.get('retry/put')).equals(body)).toBe(true);
  expect((await store.get('retry/put', { start: 7, end: 70 })).equals(body.subarray(7, 70))).toBe(
    true,
  );
  expect(proxy.stats).toMatchObject({ requests: 8, failed: 5 });
  expect(calls.map((c) => [c.op, c.error === undefined])).toEqual([
    ['put', false],
    ['put', false],
    ['put', false],
    ['put', true],
    ['get', false],
    ['get', false],
    ['get', true],
    ['get', true],
  ]);
});

it('reports a store that keeps failing after maxAttempts, without hanging', async () => {
  const store = proxiedStore({ maxAttempts: 3 });
  proxy.failRate = 1;
  const started = Date.now();
  const error = await failure(store.put('down/5xx', Buffer.from('x')));
  expect(error).toMatchObject({ op: 'put', target: 'down/5xx', attempts: 3, retriable: true });
  expect(error.message).toMatch(/SlowDown/);
  expect(proxy.stats.requests).toBe(3);

  await proxy.refuse();
  const refused = await failure(store.get('down/refused'));
  expect(refused).toMatchObject({ op: 'get', attempts: 3, retriable: true });
  expect(refused.message).toMatch(/ECONNREFUSED|ECONNRESET|socket hang up/);
  expect(Date.now() - started).toBeLessThan(5_000);
  expect(calls.filter((c) => c.error !== undefined)).toHaveLength(6);
});

it('recovers when the store comes back between attempts', async () => {
  const store = proxiedStore({ maxAttempts: 10, retryBaseDelayMs: 50, retryMaxDelayMs: 100 });
  await proxy.refuse();
  const put = store.put('back/again', Buffer.from('durable'));
  await new Promise((resolve) => setTimeout(resolve, 150));
  await proxy.accept();
  await put;
  expect((await store.get('back/again')).toString()).toBe('durable');
  expect(calls.filter((c) => c.error !== undefined).length).toBeGreaterThan(0);
});

it('times out a request that gets no answer and retries it', async () => {
  const store = proxiedStore({ maxAttempts: 2, requestTimeoutMs: 200 });
  proxy.latencyMs = 5_000;
  const started = Date.now();
  const error = await failure(store.put('slow/put', Buffer.from('x')));
  expect(error).toMatchObject({ attempts: 2, retriable: true });
  expect(error.message).toMatch(/TimeoutError/);
  expect(Date.now() - started).toBeLessThan(2_000);
});

it('does not retry what cannot succeed', async () => {
  const store = proxiedStore();
  await expect(store.get('absent/key')).rejects.toBeInstanceOf(ObjectNotFoundError);
  const noBucket = proxiedStore({ bucket: 'no-such-bucket' });
  const error = await failure(noBucket.put('k', Buffer.from('x')));
  expect(error).toMatchObject({ attempts: 1, retriable: false });
  expect(error.message).toMatch(/NoSuchBucket/);
  expect(proxy.stats.requests).toBe(2);
});

it('keeps at most maxConcurrency requests in flight', async () => {
  const store = proxiedStore({ maxConcurrency: 4 });
  proxy.latencyMs = 30;
  await Promise.all(
    Array.from({ length: 24 }, (_, i) => store.put(`bounded/${i}`, randomBytes(10_000))),
  );
  expect(proxy.stats.requests).toBe(24);
  expect(proxy.stats.maxInFlight).toBe(4);
});

it('reports every call to the observer with its operation and duration', async () => {
  const store = proxiedStore();
  proxy.latencyMs = 20;
  await store.put('observed/a', Buffer.from('a'));
  await store.get('observed/a');
  await store.list('observed/');
  await store.delete(['observed/a']);
  await store.get('observed/a').catch(() => {});
  expect(calls.map((c) => c.op)).toEqual(['put', 'get', 'list', 'delete', 'get']);
  for (const call of calls) expect(call.durationMs).toBeGreaterThanOrEqual(15);
  expect(calls[4].error).toBeDefined();
});

it('deletes more than one DeleteObjects batch and lists across pages', async () => {
  const store = proxiedStore({ endpoint: server.endpoint });
  const keys = Array.from({ length: 1005 }, (_, i) => `many/${String(i).padStart(5, '0')}`);
  await Promise.all(keys.map((key) => store.put(key, Buffer.from(key))));
  const listed = await store.list('many/');
  expect(listed.map((o) => o.key)).toEqual(keys);
  expect(calls.filter((c) => c.op === 'list')).toHaveLength(2);

  calls = [];
  await store.delete([...keys, 'many/absent']);
  // s3rver's parallel deletes race on removing empty directories and answer 500 now and then,
  // which the retries absorb; two DeleteObjects calls still carry all the keys.
  expect(calls.filter((c) => c.op === 'delete' && c.error === undefined)).toHaveLength(2);
  expect(await store.list('many/')).toEqual([]);
});

it('writes with server-side encryption headers accepted', async () => {
  const store = proxiedStore({ sse: 'AES256' });
  await store.put('sse/a', Buffer.from('secret'));
  expect((await store.get('sse/a')).toString()).toBe('secret');
  expect(() => new S3ObjectStore(server.storeConfig({ kmsKeyId: 'k' }))).toThrow(/aws:kms/);
});

it('rejects requests after close', async () => {
  const store = proxiedStore();
  await store.close();
  await expect(store.put('closed/a', Buffer.from('x'))).rejects.toThrow(/closed/);
});
