// Object-store PUTs per second against the number of partitions, with segment packing off (one
// `.kfs` and one `.index` per partition flush) and on (one packed object per flush interval, plus
// background compaction into per-partition segments). Each run appends batches to N partitions of
// one broker (a real broker context: embedded metadata store, local object store) at a fixed rate
// per partition, spread evenly over time, and counts the PUTs the object store receives.
//
//   npx tsx broker/bench/puts.ts [--partitions 1,100,1000] [--seconds 10] [--rate 10]
//                                [--record-bytes 1024] [--flush-ms 10] [--json out.json]
//
// "compaction" counts the per-partition segments and indexes written by compaction during the
// run plus one final pass over everything still packed (as if the run had gone on), divided by
// the run's duration: the steady-state cost of compaction for that produce rate.

import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { PartitionLog } from '../src/log/partition-log.js';
import { validateProducedRecords } from '../src/protocol/records/produce-rules.js';
import { buildRecordBatch } from '../src/protocol/records/record-batch-builder.js';
import { recordPuts } from '../test/support/put-recorder.js';
import { createTestBrokerContext } from '../test/support/test-broker-context.js';

const { values } = parseArgs({
  options: {
    partitions: { type: 'string', default: '1,100,1000' },
    seconds: { type: 'string', default: '10' },
    rate: { type: 'string', default: '10' },
    'record-bytes': { type: 'string', default: '1024' },
    'flush-ms': { type: 'string', default: '10' },
    json: { type: 'string' },
  },
});
const partitionCounts = values.partitions.split(',').map(Number);
const seconds = Number(values.seconds);
const ratePerPartition = Number(values.rate);
const recordBytes = Number(values['record-bytes']);
const flushMs = values['flush-ms'];

interface Result {
  packing: boolean;
  partitions: number;
  batchesPerSec: number;
  flushPutsPerSec: number;
  compactionPutsPerSec: number;
  totalPutsPerSec: number;
  failed: number;
}

async function run(partitions: number, packing: boolean): Promise<Result> {
  const broker = await createTestBrokerContext({
    env: {
      KAFSCALE_FLUSH_INTERVAL_MS: flushMs,
      KAFSCALE_PACK_SEGMENTS: String(packing),
      KAFSCALE_LOG_LEVEL: 'warn',
    },
  });
  try {
    await broker.metadata.createTopic('puts', partitions, {});
    const logs: PartitionLog[] = [];
    for (let p = 0; p < partitions; p += 100) {
      const n = Math.min(100, partitions - p);
      logs.push(
        ...(await Promise.all(Array.from({ length: n }, (_, i) => broker.logs.get('puts', p + i)))),
      );
    }
    const value = Buffer.alloc(recordBytes, 'v');
    const sent = new Array<number>(partitions).fill(0);
    const pending = new Set<Promise<void>>();
    let failed = 0;
    const periodMs = 1000 / ratePerPartition;
    const puts = recordPuts(broker.objects);
    broker.logs.startCompaction();
    const started = performance.now();
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const elapsed = performance.now() - started;
        const until = Math.min(elapsed, seconds * 1000);
        for (let p = 0; p < partitions; p++) {
          // Partition p's batches are due at phase + k * period: spread evenly over time.
          const due = Math.floor((until - (p / partitions) * periodMs) / periodMs) + 1;
          for (; sent[p] < due; sent[p]++) {
            const batch = validateProducedRecords(buildRecordBatch([{ key: null, value }]), 9);
            try {
              const durable = logs[p].append(batch).durable.catch(() => void failed++);
              pending.add(durable);
              void durable.finally(() => pending.delete(durable));
            } catch {
              failed++;
            }
          }
        }
        if (elapsed >= seconds * 1000) {
          clearInterval(timer);
          resolve();
        }
      }, 2);
    });
    await Promise.all([...pending]);
    const elapsedSec = (performance.now() - started) / 1000;
    const flushKeys = puts.keys.filter((k) => packing === k.includes('/_packed/')).length;
    await broker.logs.compact(Date.now() + 3_600_000);
    const compactionPuts = puts.keys.length - flushKeys;
    puts.restore();
    const batches = sent.reduce((a, b) => a + b, 0);
    return {
      packing,
      partitions,
      batchesPerSec: Math.round(batches / elapsedSec),
      flushPutsPerSec: Math.round((flushKeys / elapsedSec) * 10) / 10,
      compactionPutsPerSec: Math.round((compactionPuts / elapsedSec) * 10) / 10,
      totalPutsPerSec: Math.round((puts.keys.length / elapsedSec) * 10) / 10,
      failed,
    };
  } finally {
    await broker.close();
  }
}

const results: Result[] = [];
for (const packing of [false, true]) {
  for (const partitions of partitionCounts) {
    const result = await run(partitions, packing);
    results.push(result);
    console.error(JSON.stringify(result));
  }
}

console.log(
  `PUTs per second: ${seconds} s per run, ${ratePerPartition} batches/s per partition of one ` +
    `${recordBytes} B record, KAFSCALE_FLUSH_INTERVAL_MS=${flushMs}, local object store\n`,
);
console.log(
  '| packing | partitions | batches/s | flush PUTs/s | compaction PUTs/s | total PUTs/s |',
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const r of results) {
  console.log(
    `| ${r.packing ? 'on' : 'off'} | ${r.partitions} | ${r.batchesPerSec} | ${r.flushPutsPerSec} | ` +
      `${r.compactionPutsPerSec} | ${r.totalPutsPerSec} |`,
  );
}
if (values.json) await writeFile(values.json, JSON.stringify(results, null, 2));
