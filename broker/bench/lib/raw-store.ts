// The physical limit: the broker's own object store classes driven directly, with objects of the
// sizes the broker wrote and at the concurrency it used.

import { randomBytes } from 'node:crypto';
import { ObjectNotFoundError, type ObjectStore } from '../../src/storage/object-store.js';
import { RAW_PREFIX, type WrittenObject } from './env.js';

export interface RawResult {
  objects: number;
  bytes: number;
  seconds: number;
  concurrency: number;
  /** Mean object size in bytes. */
  meanSize: number;
  mbps: number;
  perSecond: number;
}

export interface RawBudget {
  /** Stop starting new requests after this many bytes or this long. */
  maxBytes: number;
  maxSeconds: number;
}

async function pool(
  items: WrittenObject[],
  concurrency: number,
  budget: RawBudget,
  request: (item: WrittenObject, index: number) => Promise<number>,
): Promise<RawResult> {
  let next = 0;
  let objects = 0;
  let bytes = 0;
  let started = 0;
  const start = performance.now();
  const deadline = start + budget.maxSeconds * 1000;
  const worker = async () => {
    while (next < items.length && started < budget.maxBytes && performance.now() < deadline) {
      const index = next++;
      started += items[index]!.size;
      const got = await request(items[index]!, index);
      if (got < 0) continue; // gone meanwhile (deleted by the broker)
      bytes += got;
      objects++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - start) / 1000;
  return {
    objects,
    bytes,
    seconds,
    concurrency,
    meanSize: objects ? bytes / objects : 0,
    mbps: bytes / seconds / 1e6,
    perSecond: objects / seconds,
  };
}

/** PUTs objects of the given sizes, in order, `concurrency` at a time, under a scratch prefix. */
export async function rawPut(
  store: ObjectStore,
  written: WrittenObject[],
  concurrency: number,
  budget: RawBudget,
): Promise<RawResult> {
  const largest = Math.max(1, ...written.map((o) => o.size));
  const body = randomBytes(largest);
  const run = `${RAW_PREFIX}${Date.now().toString(36)}`;
  const keys: string[] = [];
  const result = await pool(written, concurrency, budget, async (item, index) => {
    const key = `${run}/${String(index).padStart(8, '0')}`;
    keys.push(key);
    await store.put(key, body.subarray(0, item.size));
    return item.size;
  });
  await store.delete(keys).catch(() => undefined);
  return result;
}

/** GETs the given objects whole, `concurrency` at a time. */
export async function rawGet(
  store: ObjectStore,
  objects: WrittenObject[],
  concurrency: number,
  budget: RawBudget,
): Promise<RawResult> {
  return pool(objects, concurrency, budget, async (item) => {
    try {
      return (await store.get(item.key)).length;
    } catch (error) {
      if (error instanceof ObjectNotFoundError) return -1;
      throw error;
    }
  });
}

/** Mean requests in flight: time spent in requests over the wall-clock time, at least 1. */
export function meanConcurrency(requestSeconds: number, wallSeconds: number): number {
  if (!(wallSeconds > 0)) return 1;
  return Math.min(64, Math.max(1, Math.ceil(requestSeconds / wallSeconds)));
}
