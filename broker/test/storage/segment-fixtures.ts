import { buildRecordBatch } from '../../src/protocol/records/record-batch-builder.js';

/** Contiguous, offset-assigned batches holding `counts[i]` records of `valueSize` bytes. */
export function contiguousBatches(baseOffset: number, counts: number[], valueSize = 10): Buffer[] {
  let next = baseOffset;
  return counts.map((count) => {
    const records = Array.from({ length: count }, (_, i) => ({
      key: null,
      value: Buffer.alloc(valueSize, (next + i) % 251),
    }));
    const batch = buildRecordBatch(records, { baseOffset: next, timestamp: 1_700_000_000_000 });
    next += count;
    return batch;
  });
}
