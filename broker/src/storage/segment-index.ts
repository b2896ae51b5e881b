// The sparse `.index` object next to each `.kfs` segment: offset -> byte position of a batch start
// within the segment object, so a fetch can range-read from near its target instead of fetching
// the whole segment. Layout in docs/storage-format.md.
import { readInt64, writeInt64 } from '../protocol/records/record-batch.js';
import type { ByteRange } from './object-store.js';
import { SegmentFormatError } from './segment-error.js';
import { SEGMENT_FOOTER_SIZE, SEGMENT_HEADER_SIZE } from './segment-layout.js';

export const INDEX_MAGIC = Buffer.from('IDX\0', 'latin1');
export const INDEX_VERSION = 1;
export const INDEX_HEADER_SIZE = 16;
export const INDEX_ENTRY_SIZE = 12;
export const DEFAULT_INDEX_INTERVAL_BYTES = 4096;

export interface IndexEntry {
  /** Base offset of the batch. */
  offset: number;
  /** Byte position of the batch's first byte within the `.kfs` object. */
  position: number;
}

export interface SegmentIndex {
  version: number;
  intervalBytes: number;
  entries: IndexEntry[];
}

export function encodeIndex(entries: IndexEntry[], intervalBytes: number): Buffer {
  const buf = Buffer.allocUnsafe(INDEX_HEADER_SIZE + entries.length * INDEX_ENTRY_SIZE);
  INDEX_MAGIC.copy(buf, 0);
  buf.writeUInt16BE(INDEX_VERSION, 4);
  buf.writeInt32BE(entries.length, 6);
  buf.writeInt32BE(intervalBytes, 10);
  buf.writeUInt16BE(0, 14);
  let pos = INDEX_HEADER_SIZE;
  for (const entry of entries) {
    writeInt64(buf, pos, entry.offset);
    buf.writeInt32BE(entry.position, pos + 8);
    pos += INDEX_ENTRY_SIZE;
  }
  return buf;
}

/**
 * Parses and validates an index object. With `segmentSize`, positions are also checked to lie
 * within that segment's batch region. Throws only SegmentFormatError.
 */
export function decodeIndex(buf: Buffer, segmentSize?: number): SegmentIndex {
  if (buf.length < INDEX_HEADER_SIZE) {
    throw new SegmentFormatError('truncated', `index of ${buf.length} bytes has no full header`);
  }
  if (!buf.subarray(0, 4).equals(INDEX_MAGIC)) {
    throw new SegmentFormatError('bad-magic', 'index does not start with "IDX\\0"');
  }
  const version = buf.readUInt16BE(4);
  if (version !== INDEX_VERSION) {
    throw new SegmentFormatError('unsupported-version', `index version ${version} is unknown`);
  }
  const count = buf.readInt32BE(6);
  if (count < 1 || buf.length !== INDEX_HEADER_SIZE + count * INDEX_ENTRY_SIZE) {
    throw new SegmentFormatError(
      count < 1 ? 'bad-index' : 'truncated',
      `index declares ${count} entries but holds ${buf.length} bytes`,
    );
  }
  const positionLimit =
    segmentSize === undefined ? Number.MAX_SAFE_INTEGER : segmentSize - SEGMENT_FOOTER_SIZE;
  const entries: IndexEntry[] = [];
  let pos = INDEX_HEADER_SIZE;
  for (let i = 0; i < count; i++) {
    const entry = { offset: readInt64(buf, pos), position: buf.readInt32BE(pos + 8) };
    const previous = entries[i - 1];
    const ordered =
      previous === undefined
        ? entry.position === SEGMENT_HEADER_SIZE
        : entry.offset > previous.offset && entry.position > previous.position;
    if (!ordered || entry.position >= positionLimit) {
      throw new SegmentFormatError('bad-index', `index entry ${i} is out of order or bounds`);
    }
    entries.push(entry);
    pos += INDEX_ENTRY_SIZE;
  }
  return { version, intervalBytes: buf.readInt32BE(10), entries };
}

/**
 * The position of the last indexed batch whose base offset is <= `offset`: reading from there
 * reaches the batch holding `offset`. Offsets below the first entry map to the first batch.
 */
export function lookupPosition(index: SegmentIndex, offset: number): number {
  const { entries } = index;
  let low = 0;
  let high = entries.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >>> 1;
    if (entries[mid].offset <= offset) low = mid;
    else high = mid - 1;
  }
  return entries[low].position;
}

/**
 * The byte range of a segment object to GET for a fetch at `offset`: from the indexed batch at or
 * before it to the end of the batch region, capped at `maxBytes`. The range may end inside a
 * batch; Kafka clients accept a partial trailing batch.
 */
export function rangeForOffset(
  index: SegmentIndex,
  offset: number,
  segmentSize: number,
  maxBytes = Number.MAX_SAFE_INTEGER,
): ByteRange {
  const start = lookupPosition(index, offset);
  const regionEnd = segmentSize - SEGMENT_FOOTER_SIZE;
  return { start, end: Math.max(start, Math.min(regionEnd, start + maxBytes)) };
}
