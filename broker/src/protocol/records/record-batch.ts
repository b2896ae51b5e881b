// Kafka record batch v2 (magic 2) header access. The broker stores and serves producers' batches
// byte for byte, so this module only reads the fixed 61-byte header, checks that the batch is
// structurally sound and that its CRC-32C matches, and patches the two fields the CRC leaves out.
// int64 fields are JS numbers: exact below 2^53, which offsets, timestamps and producer ids the
// broker hands out never reach.
import { crc32c } from '@node-rs/crc32';
import { RecordBatchError } from './record-batch-error.js';

export const BATCH_HEADER_SIZE = 61;
/** baseOffset + batchLength: the part of the header that batchLength does not count. */
export const LOG_OVERHEAD = 12;

export const BASE_OFFSET_OFFSET = 0;
export const BATCH_LENGTH_OFFSET = 8;
export const PARTITION_LEADER_EPOCH_OFFSET = 12;
export const MAGIC_OFFSET = 16;
export const CRC_OFFSET = 17;
export const ATTRIBUTES_OFFSET = 21;
export const LAST_OFFSET_DELTA_OFFSET = 23;
export const BASE_TIMESTAMP_OFFSET = 27;
export const MAX_TIMESTAMP_OFFSET = 35;
export const PRODUCER_ID_OFFSET = 43;
export const PRODUCER_EPOCH_OFFSET = 51;
export const BASE_SEQUENCE_OFFSET = 53;
export const RECORD_COUNT_OFFSET = 57;

const CURRENT_MAGIC = 2;
const HEADER_UP_TO_MAGIC = MAGIC_OFFSET + 1;
const TWO_POW_32 = 2 ** 32;

export const COMPRESSION_CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type CompressionCodec = (typeof COMPRESSION_CODECS)[number];
export type TimestampType = 'create-time' | 'log-append-time';

export const ATTRIBUTE_COMPRESSION_MASK = 0x07;
export const ATTRIBUTE_TIMESTAMP_TYPE = 0x08;
export const ATTRIBUTE_TRANSACTIONAL = 0x10;
export const ATTRIBUTE_CONTROL = 0x20;
export const ATTRIBUTE_DELETE_HORIZON = 0x40;

export interface RecordBatchHeader {
  baseOffset: number;
  /** Bytes after the batchLength field; the whole batch is LOG_OVERHEAD + batchLength. */
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
  compression: CompressionCodec;
  timestampType: TimestampType;
  isTransactional: boolean;
  isControl: boolean;
  hasDeleteHorizon: boolean;
}

export interface RecordBatch {
  header: RecordBatchHeader;
  /** The whole batch, a view into the buffer it was split from (no copy). */
  bytes: Buffer;
}

export interface ParseOptions {
  /** Refuse batches larger than this many bytes (the topic's max.message.bytes). */
  maxBatchBytes?: number;
}

export function readInt64(buf: Buffer, offset: number): number {
  return buf.readInt32BE(offset) * TWO_POW_32 + buf.readUInt32BE(offset + 4);
}

export function writeInt64(buf: Buffer, offset: number, value: number): void {
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`int64 value ${value} is not a safe integer`);
  }
  const high = Math.floor(value / TWO_POW_32);
  buf.writeInt32BE(high, offset);
  buf.writeUInt32BE(value - high * TWO_POW_32, offset + 4);
}

/**
 * Parses and validates the v2 batch that starts at `offset`. The whole batch must lie within
 * `buf`. Throws only RecordBatchError, whatever the bytes.
 */
export function parseBatchHeader(
  buf: Buffer,
  offset = 0,
  options: ParseOptions = {},
): RecordBatchHeader {
  const remaining = buf.length - offset;
  if (remaining < HEADER_UP_TO_MAGIC) {
    throw new RecordBatchError(
      'truncated',
      `${remaining} bytes left, too few for a record batch header`,
      offset,
    );
  }
  const magic = buf.readInt8(offset + MAGIC_OFFSET);
  if (magic === 0 || magic === 1) {
    throw new RecordBatchError(
      'old-message-format',
      `record batch magic ${magic} (message format v${magic}) is not supported, only magic 2`,
      offset,
    );
  }
  if (magic !== CURRENT_MAGIC) {
    throw new RecordBatchError('invalid-magic', `invalid record batch magic ${magic}`, offset);
  }
  const batchLength = buf.readInt32BE(offset + BATCH_LENGTH_OFFSET);
  if (batchLength < BATCH_HEADER_SIZE - LOG_OVERHEAD) {
    throw new RecordBatchError(
      'invalid-batch-length',
      `batch length ${batchLength} is below the v2 minimum ${BATCH_HEADER_SIZE - LOG_OVERHEAD}`,
      offset,
    );
  }
  const size = LOG_OVERHEAD + batchLength;
  if (options.maxBatchBytes !== undefined && size > options.maxBatchBytes) {
    throw new RecordBatchError(
      'batch-too-large',
      `batch of ${size} bytes exceeds the maximum of ${options.maxBatchBytes}`,
      offset,
    );
  }
  if (size > remaining) {
    throw new RecordBatchError(
      'truncated',
      `batch claims ${size} bytes but only ${remaining} remain`,
      offset,
    );
  }
  const end = offset + size;
  const crc = buf.readUInt32BE(offset + CRC_OFFSET);
  const computed = crc32c(buf.subarray(offset + ATTRIBUTES_OFFSET, end));
  if (crc !== computed) {
    throw new RecordBatchError(
      'crc-mismatch',
      `batch CRC-32C mismatch: stored ${crc}, computed ${computed}`,
      offset,
    );
  }
  const attributes = buf.readInt16BE(offset + ATTRIBUTES_OFFSET);
  const codecId = attributes & ATTRIBUTE_COMPRESSION_MASK;
  const compression = COMPRESSION_CODECS[codecId];
  if (compression === undefined) {
    throw new RecordBatchError('unknown-compression', `unknown compression id ${codecId}`, offset);
  }
  const lastOffsetDelta = buf.readInt32BE(offset + LAST_OFFSET_DELTA_OFFSET);
  if (lastOffsetDelta < 0) {
    throw new RecordBatchError(
      'invalid-offset-range',
      `batch has a negative last offset delta ${lastOffsetDelta}`,
      offset,
    );
  }
  const recordCount = buf.readInt32BE(offset + RECORD_COUNT_OFFSET);
  if (recordCount !== lastOffsetDelta + 1) {
    throw new RecordBatchError(
      'invalid-record-count',
      `record count ${recordCount} is inconsistent with last offset delta ${lastOffsetDelta}`,
      offset,
    );
  }
  return {
    baseOffset: readInt64(buf, offset + BASE_OFFSET_OFFSET),
    batchLength,
    partitionLeaderEpoch: buf.readInt32BE(offset + PARTITION_LEADER_EPOCH_OFFSET),
    magic,
    crc,
    attributes,
    lastOffsetDelta,
    baseTimestamp: readInt64(buf, offset + BASE_TIMESTAMP_OFFSET),
    maxTimestamp: readInt64(buf, offset + MAX_TIMESTAMP_OFFSET),
    producerId: readInt64(buf, offset + PRODUCER_ID_OFFSET),
    producerEpoch: buf.readInt16BE(offset + PRODUCER_EPOCH_OFFSET),
    baseSequence: buf.readInt32BE(offset + BASE_SEQUENCE_OFFSET),
    recordCount,
    compression,
    timestampType: attributes & ATTRIBUTE_TIMESTAMP_TYPE ? 'log-append-time' : 'create-time',
    isTransactional: (attributes & ATTRIBUTE_TRANSACTIONAL) !== 0,
    isControl: (attributes & ATTRIBUTE_CONTROL) !== 0,
    hasDeleteHorizon: (attributes & ATTRIBUTE_DELETE_HORIZON) !== 0,
  };
}

/**
 * Splits a `records` blob into its batches, each a zero-copy view. An empty blob yields no
 * batches; any trailing partial batch is an error rather than silently dropped.
 */
export function splitBatches(records: Buffer, options: ParseOptions = {}): RecordBatch[] {
  const batches: RecordBatch[] = [];
  let position = 0;
  while (position < records.length) {
    const header = parseBatchHeader(records, position, options);
    const end = position + LOG_OVERHEAD + header.batchLength;
    batches.push({ header, bytes: records.subarray(position, end) });
    position = end;
  }
  return batches;
}

/** The last offset a batch covers, from its header bytes alone. */
export function batchLastOffset(buf: Buffer, batchStart = 0): number {
  return (
    readInt64(buf, batchStart + BASE_OFFSET_OFFSET) +
    buf.readInt32BE(batchStart + LAST_OFFSET_DELTA_OFFSET)
  );
}

/** Assigns the batch its log offset in place; the CRC does not cover this field. */
export function patchBaseOffset(buf: Buffer, batchStart: number, baseOffset: number): void {
  writeInt64(buf, batchStart + BASE_OFFSET_OFFSET, baseOffset);
}

/** Stamps the leader epoch in place; the CRC does not cover this field. */
export function patchPartitionLeaderEpoch(buf: Buffer, batchStart: number, epoch: number): void {
  buf.writeInt32BE(epoch, batchStart + PARTITION_LEADER_EPOCH_OFFSET);
}
