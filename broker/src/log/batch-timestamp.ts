import { decodeRecordsIfReadable } from '../protocol/records/record-batch-decoder.js';
import { readInt64 } from '../protocol/records/record-batch.js';

const MAX_TIMESTAMP_OFFSET = 35;
const BASE_TIMESTAMP_OFFSET = 27;

/**
 * The newest record timestamp of a stored batch. Some clients (Sarama before 1.27) leave the
 * header's max timestamp at -1, where Kafka recomputes it from the records; the broker keeps the
 * producer's bytes, so it recomputes it when it reads: from the records when it can read them
 * (uncompressed, gzip), else from the first timestamp, else `fallback` (the arrival time).
 */
export function batchMaxTimestamp(batch: Buffer, fallback: number): number {
  const max = readInt64(batch, MAX_TIMESTAMP_OFFSET);
  if (max >= 0) return max;
  try {
    const records = decodeRecordsIfReadable(batch);
    if (records && records.length > 0) return Math.max(...records.map((r) => r.timestamp));
  } catch {
    // An unreadable record section: fall through to the header's first timestamp.
  }
  const base = readInt64(batch, BASE_TIMESTAMP_OFFSET);
  return base >= 0 ? base : fallback;
}
