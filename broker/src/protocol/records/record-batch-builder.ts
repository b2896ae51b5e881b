// Builds uncompressed v2 record batches the way a Kafka producer does. The broker itself never
// builds batches; tests, tools and benchmarks need real, CRC-valid ones.
import { crc32c } from '@node-rs/crc32';
import {
  ATTRIBUTE_CONTROL,
  ATTRIBUTE_TIMESTAMP_TYPE,
  ATTRIBUTE_TRANSACTIONAL,
  ATTRIBUTES_OFFSET,
  BASE_OFFSET_OFFSET,
  BASE_SEQUENCE_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  BATCH_HEADER_SIZE,
  BATCH_LENGTH_OFFSET,
  CRC_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  PARTITION_LEADER_EPOCH_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORD_COUNT_OFFSET,
  TimestampType,
  writeInt64,
} from './record-batch.js';
import { varintSize, writeVarint } from './varint.js';

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

export interface ProducerRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers?: RecordHeader[];
  /** Milliseconds since the epoch; defaults to the batch's `timestamp` option. */
  timestamp?: number;
}

export interface BuildBatchOptions {
  baseOffset?: number;
  /** -1 (none) as sent by producers; the leader stamps its epoch on append. */
  partitionLeaderEpoch?: number;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  transactional?: boolean;
  /** Control batches are written by the transaction coordinator, never by clients. */
  control?: boolean;
  timestampType?: TimestampType;
  /** Timestamp for records that carry none; defaults to now. */
  timestamp?: number;
}

interface SizedRecord {
  record: ProducerRecord;
  timestamp: number;
  headerKeys: Buffer[];
  bodySize: number;
}

function sizeOfBytes(bytes: Buffer | null): number {
  return bytes === null ? varintSize(-1) : varintSize(bytes.length) + bytes.length;
}

function writeBytes(buf: Buffer, offset: number, bytes: Buffer | null): number {
  if (bytes === null) return writeVarint(buf, offset, -1);
  const next = writeVarint(buf, offset, bytes.length);
  return next + bytes.copy(buf, next);
}

function measure(
  record: ProducerRecord,
  offsetDelta: number,
  timestamp: number,
  baseTimestamp: number,
): SizedRecord {
  const headers = record.headers ?? [];
  const headerKeys = headers.map((h) => Buffer.from(h.key, 'utf8'));
  let bodySize =
    1 +
    varintSize(timestamp - baseTimestamp) +
    varintSize(offsetDelta) +
    sizeOfBytes(record.key) +
    sizeOfBytes(record.value) +
    varintSize(headers.length);
  headers.forEach((h, i) => {
    bodySize += sizeOfBytes(headerKeys[i]) + sizeOfBytes(h.value);
  });
  return { record, timestamp, headerKeys, bodySize };
}

/** Recomputes and stores the CRC-32C of the batch starting at `batchStart`. */
export function writeBatchCrc(buf: Buffer, batchStart = 0): void {
  const end = batchStart + LOG_OVERHEAD + buf.readInt32BE(batchStart + BATCH_LENGTH_OFFSET);
  buf.writeUInt32BE(
    crc32c(buf.subarray(batchStart + ATTRIBUTES_OFFSET, end)),
    batchStart + CRC_OFFSET,
  );
}

export function buildRecordBatch(
  records: ProducerRecord[],
  options: BuildBatchOptions = {},
): Buffer {
  if (records.length === 0) {
    throw new RangeError('a record batch needs at least one record');
  }
  const defaultTimestamp = options.timestamp ?? Date.now();
  const timestamps = records.map((r) => r.timestamp ?? defaultTimestamp);
  const baseTimestamp = timestamps[0];
  const maxTimestamp = timestamps.reduce((max, t) => (t > max ? t : max));
  const sized = records.map((r, i) => measure(r, i, timestamps[i], baseTimestamp));
  const size = sized.reduce(
    (total, s) => total + varintSize(s.bodySize) + s.bodySize,
    BATCH_HEADER_SIZE,
  );

  const buf = Buffer.alloc(size);
  let attributes = 0;
  if (options.timestampType === 'log-append-time') attributes |= ATTRIBUTE_TIMESTAMP_TYPE;
  if (options.transactional) attributes |= ATTRIBUTE_TRANSACTIONAL;
  if (options.control) attributes |= ATTRIBUTE_CONTROL;

  writeInt64(buf, BASE_OFFSET_OFFSET, options.baseOffset ?? 0);
  buf.writeInt32BE(size - LOG_OVERHEAD, BATCH_LENGTH_OFFSET);
  buf.writeInt32BE(options.partitionLeaderEpoch ?? -1, PARTITION_LEADER_EPOCH_OFFSET);
  buf.writeInt8(2, MAGIC_OFFSET);
  buf.writeInt16BE(attributes, ATTRIBUTES_OFFSET);
  buf.writeInt32BE(records.length - 1, LAST_OFFSET_DELTA_OFFSET);
  writeInt64(buf, BASE_TIMESTAMP_OFFSET, baseTimestamp);
  writeInt64(buf, MAX_TIMESTAMP_OFFSET, maxTimestamp);
  writeInt64(buf, PRODUCER_ID_OFFSET, options.producerId ?? -1);
  buf.writeInt16BE(options.producerEpoch ?? -1, PRODUCER_EPOCH_OFFSET);
  buf.writeInt32BE(options.baseSequence ?? -1, BASE_SEQUENCE_OFFSET);
  buf.writeInt32BE(records.length, RECORD_COUNT_OFFSET);

  let pos = BATCH_HEADER_SIZE;
  sized.forEach(({ record, timestamp, headerKeys, bodySize }, offsetDelta) => {
    pos = writeVarint(buf, pos, bodySize);
    buf.writeInt8(0, pos++);
    pos = writeVarint(buf, pos, timestamp - baseTimestamp);
    pos = writeVarint(buf, pos, offsetDelta);
    pos = writeBytes(buf, pos, record.key);
    pos = writeBytes(buf, pos, record.value);
    const headers = record.headers ?? [];
    pos = writeVarint(buf, pos, headers.length);
    headers.forEach((h, i) => {
      pos = writeBytes(buf, pos, headerKeys[i]);
      pos = writeBytes(buf, pos, h.value);
    });
  });

  writeBatchCrc(buf);
  return buf;
}
