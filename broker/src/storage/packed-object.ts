// Packed objects: one PUT carrying the segments of many partitions flushed at about the same time,
// so a broker's PUT rate follows its flush rate, not its partition count. Each partition's `.kfs`
// segment is stored unchanged, then each one's `.index`; manifest entries address their ranges.
// Layout in docs/storage-format.md.
import type { SegmentRecord } from '../metadata/model.js';
import type { ByteRange } from './object-store.js';
import { SEGMENT_FOOTER_SIZE, SEGMENT_HEADER_SIZE } from './segment-layout.js';

const SEQUENCE_DIGITS = 20;
const WRITER_ID = /^[a-z0-9-]{1,64}$/;

export interface PackedPart {
  segment: Buffer;
  index: Buffer;
}

/** Where one part landed inside the packed object. */
export interface PackedPlacement {
  key: string;
  segmentStart: number;
  segmentEnd: number;
  indexStart: number;
  indexEnd: number;
}

/**
 * `{namespace}/_packed/{writerId}/{sequence}.kfs`. The writer id is unique to one broker process
 * and the sequence never repeats within it, so no key is ever reused. It never matches the
 * per-partition layout: the file name does not start with `segment-`.
 */
export function packedObjectKey(namespace: string, writerId: string, sequence: number): string {
  if (!WRITER_ID.test(writerId)) throw new RangeError(`invalid writer id ${writerId}`);
  if (!Number.isSafeInteger(sequence) || sequence < 0) {
    throw new RangeError(`invalid sequence ${sequence}`);
  }
  return `${namespace}/_packed/${writerId}/${String(sequence).padStart(SEQUENCE_DIGITS, '0')}.kfs`;
}

/**
 * Every part's segment, then every part's index (the object's body, as parts that are not copied
 * into one buffer), and where each one lands.
 */
export function encodePackedObject(
  key: string,
  parts: PackedPart[],
): { body: Buffer[]; placements: PackedPlacement[] } {
  const body = [...parts.map((p) => p.segment), ...parts.map((p) => p.index)];
  const placements: PackedPlacement[] = [];
  let segmentAt = 0;
  let indexAt = parts.reduce((sum, p) => sum + p.segment.length, 0);
  for (const part of parts) {
    placements.push({
      key,
      segmentStart: segmentAt,
      segmentEnd: segmentAt + part.segment.length,
      indexStart: indexAt,
      indexEnd: indexAt + part.index.length,
    });
    segmentAt += part.segment.length;
    indexAt += part.index.length;
  }
  return { body, placements };
}

/** The manifest entry fields of a segment stored at `placement`. */
export function packedSegmentFields(
  placement: PackedPlacement,
): Pick<SegmentRecord, 'key' | 'indexKey' | 'dataStart' | 'dataEnd'> &
  Required<Pick<SegmentRecord, 'segmentStart' | 'segmentEnd' | 'indexStart' | 'indexEnd'>> {
  return {
    key: placement.key,
    indexKey: placement.key,
    dataStart: placement.segmentStart + SEGMENT_HEADER_SIZE,
    dataEnd: placement.segmentEnd - SEGMENT_FOOTER_SIZE,
    segmentStart: placement.segmentStart,
    segmentEnd: placement.segmentEnd,
    indexStart: placement.indexStart,
    indexEnd: placement.indexEnd,
  };
}

/** True when the entry lives in an object shared with other partitions. */
export function isPacked(segment: SegmentRecord): boolean {
  return segment.segmentStart !== undefined;
}

/**
 * Objects that belong to this entry alone and may be deleted with it. A packed object may still
 * hold other partitions' committed data: the orphan sweeper deletes it once nothing references it.
 */
export function exclusiveObjectKeys(segment: SegmentRecord): string[] {
  return isPacked(segment) ? [] : [segment.key, segment.indexKey];
}

/** Where the segment's batch positions (as its index gives them) start inside `key`. */
export function segmentOrigin(segment: SegmentRecord): number {
  return segment.segmentStart ?? 0;
}

/** The range of `indexKey` holding the entry's index, or undefined for the whole object. */
export function indexRange(segment: SegmentRecord): ByteRange | undefined {
  return segment.indexStart !== undefined && segment.indexEnd !== undefined
    ? { start: segment.indexStart, end: segment.indexEnd }
    : undefined;
}

/** Cache keys: entries sharing a packed object must not share cached bytes. */
export function dataCacheKey(segment: SegmentRecord): string {
  return isPacked(segment) ? `${segment.key}#${segment.dataStart}` : segment.key;
}

export function indexCacheKey(segment: SegmentRecord): string {
  return isPacked(segment) ? `${segment.indexKey}#${segment.indexStart}` : segment.indexKey;
}
