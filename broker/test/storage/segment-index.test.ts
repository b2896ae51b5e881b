import fc from 'fast-check';
import { encodeSegment, decodeSegment } from '../../src/storage/segment.js';
import {
  decodeIndex,
  encodeIndex,
  lookupPosition,
  rangeForOffset,
} from '../../src/storage/segment-index.js';
import { SegmentFormatError } from '../../src/storage/segment-error.js';
import { batchLastOffset, readInt64 } from '../../src/protocol/records/record-batch.js';
import { contiguousBatches } from './segment-fixtures.js';

const layout = fc.record({
  baseOffset: fc.integer({ min: 0, max: 2 ** 48 }),
  counts: fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 60 }),
  valueSize: fc.integer({ min: 0, max: 400 }),
  intervalBytes: fc.integer({ min: 1, max: 5000 }),
});

describe('sparse index', () => {
  it('has an entry for the first batch and never leaves a gap of intervalBytes unindexed', () => {
    fc.assert(
      fc.property(layout, ({ baseOffset, counts, valueSize, intervalBytes }) => {
        const batches = contiguousBatches(baseOffset, counts, valueSize);
        const { segment, index } = encodeSegment({
          baseOffset,
          batches,
          indexIntervalBytes: intervalBytes,
        });
        const decoded = decodeIndex(index, segment.length);
        const positions = decodeSegment(segment).batches.map((b) => b.position);
        expect(decoded.intervalBytes).toBe(intervalBytes);
        expect(decoded.entries[0]).toEqual({ offset: baseOffset, position: 32 });
        // Every batch start is within intervalBytes of an entry, or is an entry itself.
        for (const position of positions) {
          const previous = decoded.entries.filter((e) => e.position <= position).pop()!;
          expect(
            position - previous.position < intervalBytes || previous.position === position,
          ).toBe(true);
        }
        // Entries point at batch starts with those batches' base offsets.
        const starts = new Map(decodeSegment(segment).batches.map((b) => [b.position, b.bytes]));
        for (const entry of decoded.entries) {
          expect(readInt64(starts.get(entry.position)!, 0)).toBe(entry.offset);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('lookup returns a batch start at or before the batch holding any offset', () => {
    fc.assert(
      fc.property(layout, fc.nat(), ({ baseOffset, counts, valueSize, intervalBytes }, pick) => {
        const batches = contiguousBatches(baseOffset, counts, valueSize);
        const { segment, index, lastOffset } = encodeSegment({
          baseOffset,
          batches,
          indexIntervalBytes: intervalBytes,
        });
        const decoded = decodeIndex(index);
        const target = baseOffset + (pick % (lastOffset - baseOffset + 1));
        const position = lookupPosition(decoded, target);
        const segmentBatches = decodeSegment(segment).batches;
        const holder = segmentBatches.find(
          (b) => target >= readInt64(b.bytes, 0) && target <= batchLastOffset(b.bytes),
        )!;
        expect(segmentBatches.some((b) => b.position === position)).toBe(true);
        expect(position).toBeLessThanOrEqual(holder.position);
        // Sparse but tight: nothing indexed lies between the answer and the holder.
        expect(
          decoded.entries.some((e) => e.position > position && e.position <= holder.position),
        ).toBe(false);
        const range = rangeForOffset(decoded, target, segment.length, 1 << 20);
        expect(range.start).toBe(position);
        expect(range.end).toBe(Math.min(segment.length - 16, position + (1 << 20)));
      }),
      { numRuns: 150 },
    );
  });

  it('maps offsets below the first entry to the first batch', () => {
    const index = decodeIndex(
      encodeIndex(
        [
          { offset: 50, position: 32 },
          { offset: 60, position: 900 },
        ],
        100,
      ),
    );
    expect(lookupPosition(index, 0)).toBe(32);
    expect(lookupPosition(index, 59)).toBe(32);
    expect(lookupPosition(index, 60)).toBe(900);
    expect(lookupPosition(index, 10 ** 15)).toBe(900);
  });

  it('caps a range at maxBytes and at the end of the batch region', () => {
    const index = decodeIndex(encodeIndex([{ offset: 0, position: 32 }], 4096));
    expect(rangeForOffset(index, 0, 1000, 100)).toEqual({ start: 32, end: 132 });
    expect(rangeForOffset(index, 0, 1000)).toEqual({ start: 32, end: 984 });
  });
});

describe('decodeIndex on damaged input', () => {
  const good = encodeIndex(
    [
      { offset: 0, position: 32 },
      { offset: 10, position: 5000 },
    ],
    4096,
  );
  const reasonOf = (buf: Buffer, size?: number) => {
    try {
      decodeIndex(buf, size);
    } catch (error) {
      expect(error).toBeInstanceOf(SegmentFormatError);
      return (error as SegmentFormatError).reason;
    }
    return 'ok';
  };

  it('detects bad magic, version, truncation, count and ordering', () => {
    expect(reasonOf(good)).toBe('ok');
    expect(reasonOf(Buffer.concat([Buffer.from('IDY\0'), good.subarray(4)]))).toBe('bad-magic');
    const badVersion = Buffer.from(good);
    badVersion.writeUInt16BE(9, 4);
    expect(reasonOf(badVersion)).toBe('unsupported-version');
    expect(reasonOf(good.subarray(0, good.length - 1))).toBe('truncated');
    expect(reasonOf(good.subarray(0, 10))).toBe('truncated');
    const hugeCount = Buffer.from(good);
    hugeCount.writeInt32BE(0x7fffffff, 6);
    expect(reasonOf(hugeCount)).toBe('truncated');
    expect(reasonOf(encodeIndex([], 1))).toBe('bad-index');
    expect(reasonOf(encodeIndex([{ offset: 0, position: 33 }], 1))).toBe('bad-index');
    expect(
      reasonOf(
        encodeIndex(
          [
            { offset: 5, position: 32 },
            { offset: 5, position: 100 },
          ],
          1,
        ),
      ),
    ).toBe('bad-index');
    expect(reasonOf(good, 5000)).toBe('bad-index');
  });

  it('throws only SegmentFormatError for arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.boolean(), (bytes, withMagic) => {
        const buf = Buffer.from(bytes);
        if (withMagic && buf.length >= 6) {
          buf.write('IDX\0', 0, 'latin1');
          buf.writeUInt16BE(1, 4);
        }
        reasonOf(buf);
      }),
      { numRuns: 1000 },
    );
  });
});
