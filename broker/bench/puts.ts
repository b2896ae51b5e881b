// Object-store PUTs per second against the number of partitions, with segment packing off (one
// `.kfs` and one `.index` per partition flush) and on (one packed object per flush interval, plus
// background compaction into per-partition segments). Each run appends batches to N partitions of
// one broker (a real broker context: embedded metadata store, local object store) at a fixed rate
// per partition, spread evenly over time, and counts the PUTs the object store receives.
//
//   npx tsx broker/bench/puts.ts [--partitions 1,100,1000] [--seconds 10] [--rate 10]
//                                [--record-bytes 1024] [--flush-ms 10] [--json out.json]
//
// "compaction in run" counts the per-partition segments and indexes compaction wrote during the
// run. "compaction steady" estimates the long-run cost at that produce rate: each partition still
// holding packed segments at the end is compacted once its run is due (KAFSCALE_COMPACT_BYTES,
// MAX_RUN_SEGMENTS segments or KAFSCALE_COMPACT_MAX_AGE_MS, whichever comes first at the rate it
// accumulated them), 2 PUTs each time. A final pass then compacts everything, and the harness
// checks it wrote exactly 2 PUTs per such partition. The total uses the steady estimate.

import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { PartitionLog } from '../src/log/partition-log.js';
import { MAX_RUN_SEGMENTS } from '../src/log/segment-compactor.js';
import { isPacked } from '../src/storage/packed-object.js';
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
  steadyCompactionPutsPerSec: number;
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
    const compactionPuts = puts.keys.length - flushKeys;
    // Steady state: how often each partition's packed segments become due at this rate.
    const { compactBytes, compactMaxAgeMs } = broker.logs.logConfig;
    let steady = 0;
    let due = 0;
    for (const log of logs) {
      const packed = log.manifest.filter(isPacked);
      if (packed.length === 0) continue;
      due++;
      const since = Math.min(...packed.map((s) => s.createdAt));
      const spanSec = Math.max(0.001, (Date.now() - since) / 1000);
      const bytes = packed.reduce((sum, s) => sum + s.dataEnd - s.dataStart, 0);
      const everySec = Math.min(
        compactMaxAgeMs / 1000,
        (spanSec * MAX_RUN_SEGMENTS) / packed.length,
        (spanSec * compactBytes) / bytes,
      );
      steady += 2 / Math.max(everySec, spanSec / Math.max(1, packed.length));
    }
    const before = puts.keys.length;
    await broker.logs.compact(Date.now() + 3_600_001);
    const finalPass = puts.keys.length - before;
    if (finalPass < 2 * due) throw new Error(`final pass wrote ${finalPass} PUTs for ${due}`);
    puts.restore();
    const batches = sent.reduce((a, b) => a + b, 0);
    const steadyCompaction = Math.max(steady, compactionPuts / elapsedSec);
    return {
      packing,
      partitions,
      batchesPerSec: Math.round(batches / elapsedSec),
      flushPutsPerSec: Math.round((flushKeys / elapsedSec) * 10) / 10,
      compactionPutsPerSec: Math.round((compactionPuts / elapsedSec) * 10) / 10,
      steadyCompactionPutsPerSec: Math.round(steadyCompaction * 10) / 10,
      totalPutsPerSec: Math.round((flushKeys / elapsedSec + steadyCompaction) * 10) / 10,
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
  '| packing | partitions | batches/s | flush PUTs/s | compaction PUTs/s in run | ' +
    'compaction PUTs/s steady | total PUTs/s |',
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of results) {
  console.log(
    `| ${r.packing ? 'on' : 'off'} | ${r.partitions} | ${r.batchesPerSec} | ${r.flushPutsPerSec} | ` +
      `${r.compactionPutsPerSec} | ${r.steadyCompactionPutsPerSec} | ${r.totalPutsPerSec} |`,
  );
}
if (values.json) await writeFile(values.json, JSON.stringify(results, null, 2));
