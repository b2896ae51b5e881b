// The `.kfs` segment object: a 32-byte header, producers' v2 batches byte for byte (offsets
// already assigned), and a 16-byte footer whose CRC-32 covers the batch bytes. Layout follows the
// upstream KafScale spec and is documented in docs/storage-format.md.
import { crc32 } from '@node-rs/crc32';
import {
  BASE_OFFSET_OFFSET,
  BATCH_HEADER_SIZE,
  BATCH_LENGTH_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  RECORD_COUNT_OFFSET,
  batchLastOffset,
  readInt64,
  writeInt64,
} from '../protocol/records/record-batch.js';
import type { ByteRange } from './object-store.js';
import { SegmentFormatError } from './segment-error.js';
import { DEFAULT_INDEX_INTERVAL_BYTES, IndexEntry, encodeIndex } from './segment-index.js';
import {
  MAX_SEGMENT_SIZE,
  SEGMENT_FOOTER_MAGIC,
  SEGMENT_FOOTER_SIZE,
  SEGMENT_HEADER_SIZE,
  SEGMENT_MAGIC,
  SEGMENT_VERSION,
} from './segment-layout.js';

const INT32_MAX = 0x7fffffff;

export interface SegmentInput {
  baseOffset: number;
  /** Complete v2 batches in offset order, base offsets already assigned. */
  batches: Buffer[];
  /** Milliseconds since the epoch; defaults to now. */
  createdAt?: number;
  indexIntervalBytes?: number;
}

export interface EncodedSegment {
  segment: Buffer;
  index: Buffer;
  lastOffset: number;
  messageCount: number;
  batchCount: number;
}

export interface SegmentHeader {
  version: number;
  flags: number;
  baseOffset: number;
  messageCount: number;
  createdAt: number;
}

export interface SegmentFooter {
  crc: number;
  lastOffset: number;
}

export interface SegmentBatch {
  /** Byte position of the batch within the segment object. */
  position: number;
  /** The batch bytes, a view into the decoded buffer. */
  bytes: Buffer;
}

export interface DecodedSegment extends SegmentHeader, SegmentFooter {
  batches: SegmentBatch[];
}

function checkBatch(batch: Buffer, i: number): void {
  const framed =
    batch.length >= BATCH_HEADER_SIZE &&
    batch.length === LOG_OVERHEAD + batch.readInt32BE(BATCH_LENGTH_OFFSET);
  if (!framed) throw new RangeError(`batch ${i} is not one complete record batch`);
}

export function encodeSegment(input: SegmentInput): EncodedSegment {
  const { baseOffset, batches } = input;
  const createdAt = input.createdAt ?? Date.now();
  const intervalBytes = input.indexIntervalBytes ?? DEFAULT_INDEX_INTERVAL_BYTES;
  if (batches.length === 0) throw new RangeError('a segment needs at least one batch');
  if (!Number.isInteger(intervalBytes) || intervalBytes < 1 || intervalBytes > INT32_MAX) {
    throw new RangeError(`index interval ${intervalBytes} is not a positive int32`);
  }

  let size = SEGMENT_HEADER_SIZE + SEGMENT_FOOTER_SIZE;
  let messageCount = 0;
  let previousLast = baseOffset - 1;
  batches.forEach((batch, i) => {
    checkBatch(batch, i);
    const first = readInt64(batch, BASE_OFFSET_OFFSET);
    if (i === 0 ? first !== baseOffset : first <= previousLast) {
      throw new RangeError(`batch ${i} base offset ${first} is out of order`);
    }
    previousLast = batchLastOffset(batch);
    size += batch.length;
    messageCount += batch.readInt32BE(RECORD_COUNT_OFFSET);
  });
  if (size > MAX_SEGMENT_SIZE || messageCount > INT32_MAX) {
    throw new RangeError(`segment of ${size} bytes and ${messageCount} messages is too large`);
  }

  const segment = Buffer.allocUnsafe(size);
  SEGMENT_MAGIC.copy(segment, 0);
  segment.writeUInt16BE(SEGMENT_VERSION, 4);
  segment.writeUInt16BE(0, 6);
  writeInt64(segment, 8, baseOffset);
  segment.writeInt32BE(messageCount, 16);
  writeInt64(segment, 20, createdAt);
  segment.writeUInt32BE(0, 28);

  const entries: IndexEntry[] = [];
  let position = SEGMENT_HEADER_SIZE;
  let lastIndexed = -Infinity;
  for (const batch of batches) {
    if (position - lastIndexed >= intervalBytes) {
      entries.push({ offset: readInt64(batch, BASE_OFFSET_OFFSET), position });
      lastIndexed = position;
    }
    position += batch.copy(segment, position);
  }

  const footer = size - SEGMENT_FOOTER_SIZE;
  segment.writeUInt32BE(crc32(segment.subarray(SEGMENT_HEADER_SIZE, footer)), footer);
  writeInt64(segment, footer + 4, previousLast);
  SEGMENT_FOOTER_MAGIC.copy(segment, footer + 12);

  return {
    segment,
    index: encodeIndex(entries, intervalBytes),
    lastOffset: previousLast,
    messageCount,
    batchCount: batches.length,
  };
}

/** Reads the first SEGMENT_HEADER_SIZE bytes of a segment object. */
export function decodeSegmentHeader(buf: Buffer): SegmentHeader {
  if (buf.length < SEGMENT_HEADER_SIZE) {
    throw new SegmentFormatError('truncated', `${buf.length} bytes hold no segment header`);
  }
  if (!buf.subarray(0, 4).equals(SEGMENT_MAGIC)) {
    throw new SegmentFormatError('bad-magic', 'segment does not start with "KAFS"');
  }
  const version = buf.readUInt16BE(4);
  if (version !== SEGMENT_VERSION) {
    throw new SegmentFormatError('unsupported-version', `segment version ${version} is unknown`);
  }
  return {
    version,
    flags: buf.readUInt16BE(6),
    baseOffset: readInt64(buf, 8),
    messageCount: buf.readInt32BE(16),
    createdAt: readInt64(buf, 20),
  };
}

/** Reads the footer from the last SEGMENT_FOOTER_SIZE bytes of `buf`. */
export function decodeSegmentFooter(buf: Buffer): SegmentFooter {
  if (buf.length < SEGMENT_FOOTER_SIZE) {
    throw new SegmentFormatError('truncated', `${buf.length} bytes hold no segment footer`);
  }
  const footer = buf.length - SEGMENT_FOOTER_SIZE;
  if (!buf.subarray(footer + 12).equals(SEGMENT_FOOTER_MAGIC)) {
    throw new SegmentFormatError('bad-footer-magic', 'segment does not end with "END!"');
  }
  return { crc: buf.readUInt32BE(footer), lastOffset: readInt64(buf, footer + 4) };
}

/** Where the batches lie in a segment object of `segmentSize` bytes: serve ranges within it. */
export function segmentBatchRegion(segmentSize: number): ByteRange {
  return { start: SEGMENT_HEADER_SIZE, end: segmentSize - SEGMENT_FOOTER_SIZE };
}

function splitSegmentBatches(buf: Buffer, start: number, end: number): SegmentBatch[] {
  const batches: SegmentBatch[] = [];
  let position = start;
  while (position < end) {
    if (end - position < BATCH_HEADER_SIZE) {
      throw new SegmentFormatError('bad-batch', `partial batch header at byte ${position}`);
    }
    const size = LOG_OVERHEAD + buf.readInt32BE(position + BATCH_LENGTH_OFFSET);
    if (size < BATCH_HEADER_SIZE || size > end - position || buf[position + MAGIC_OFFSET] !== 2) {
      throw new SegmentFormatError('bad-batch', `malformed batch at byte ${position}`);
    }
    batches.push({ position, bytes: buf.subarray(position, position + size) });
    position += size;
  }
  return batches;
}

function checkConsistency(header: SegmentHeader, footer: SegmentFooter, batches: SegmentBatch[]) {
  if (batches.length === 0) {
    throw new SegmentFormatError('inconsistent', 'segment holds no batches');
  }
  let messageCount = 0;
  let previousLast = header.baseOffset - 1;
  batches.forEach(({ bytes }, i) => {
    const first = readInt64(bytes, BASE_OFFSET_OFFSET);
    if (i === 0 ? first !== header.baseOffset : first <= previousLast) {
      throw new SegmentFormatError('inconsistent', `batch ${i} base offset ${first} out of order`);
    }
    previousLast = batchLastOffset(bytes);
    messageCount += bytes.readInt32BE(RECORD_COUNT_OFFSET);
  });
  if (previousLast !== footer.lastOffset || messageCount !== header.messageCount) {
    throw new SegmentFormatError('inconsistent', 'header or footer disagree with the batches');
  }
}

/**
 * Validates a whole segment object (magics, version, CRC, batch framing, header and footer
 * against the batches) and returns its fields with zero-copy batch views. Throws only
 * SegmentFormatError.
 */
export function decodeSegment(buf: Buffer): DecodedSegment {
  if (buf.length < SEGMENT_HEADER_SIZE + SEGMENT_FOOTER_SIZE) {
    throw new SegmentFormatError('truncated', `segment of ${buf.length} bytes is too short`);
  }
  const header = decodeSegmentHeader(buf);
  const footer = decodeSegmentFooter(buf);
  const region = segmentBatchRegion(buf.length);
  const computed = crc32(buf.subarray(region.start, region.end));
  if (computed !== footer.crc) {
    throw new SegmentFormatError(
      'crc-mismatch',
      `segment CRC-32 mismatch: stored ${footer.crc}, computed ${computed}`,
    );
  }
  const batches = splitSegmentBatches(buf, region.start, region.end);
  checkConsistency(header, footer, batches);
  return { ...header, ...footer, batches };
}
