// Measures txn latency and throughput of both stores (figures are printed, not asserted, since
// they depend on the machine) and checks that heavy concurrency keeps revisions gap-free.

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EmbeddedMetadataStore } from '../../src/metadata/embedded-metadata-store.js';
import { EtcdMetadataStore } from '../../src/metadata/etcd-metadata-store.js';
import type { MetadataStore } from '../../src/metadata/metadata-store.js';
import { EtcdServer } from '../support/etcd.js';

const COUNT = 1000;

async function measure(name: string, store: MetadataStore): Promise<void> {
  const latencies: number[] = [];
  const timed = async (i: number, prefix: string) => {
    const started = performance.now();
    const key = `${prefix}/${i}`;
    const result = await store.txn(
      [{ key, target: 'version', op: '=', value: 0 }],
      [{ type: 'put', key, value: 'x' }],
    );
    latencies.push(performance.now() - started);
    expect(result.succeeded).toBe(true);
    return result.revision;
  };

  const started = performance.now();
  const revisions = await Promise.all(Array.from({ length: COUNT }, (_, i) => timed(i, 'conc')));
  const concurrentMs = performance.now() - started;
  const sorted = [...revisions].sort((a, b) => a - b);
  expect(sorted[sorted.length - 1]! - sorted[0]!).toBe(COUNT - 1);
  const concurrent = summarize(latencies.splice(0));

  const sequentialStart = performance.now();
  for (let i = 0; i < 200; i++) await timed(i, 'seq');
  const sequentialMs = performance.now() - sequentialStart;
  const sequential = summarize(latencies);

  process.stdout.write(
    `${name}: ${COUNT} concurrent txns in ${concurrentMs.toFixed(0)} ms ` +
      `(${((COUNT / concurrentMs) * 1000).toFixed(0)} txn/s, p50 ${concurrent.p50} ms, ` +
      `p99 ${concurrent.p99} ms); sequential: ${((200 / sequentialMs) * 1000).toFixed(0)} txn/s, ` +
      `p50 ${sequential.p50} ms, p99 ${sequential.p99} ms\n`,
  );
}

function summarize(latencies: number[]): { p50: string; p99: string } {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { p50: at(0.5).toFixed(2), p99: at(0.99).toFixed(2) };
}

test('embedded store txn throughput', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kafscale-meta-bench-'));
  const store = await EmbeddedMetadataStore.open(dir);
  try {
    await measure('embedded', store);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('etcd store txn throughput', async () => {
  const etcd = await EtcdServer.start();
  const store = new EtcdMetadataStore({ endpoints: [etcd.endpoint] });
  try {
    await measure('etcd', store);
  } finally {
    await store.close();
    await etcd.destroy();
  }
});
