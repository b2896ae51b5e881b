import { crc32 } from '@node-rs/crc32';
import fc from 'fast-check';
import {
  decodeSegment,
  decodeSegmentFooter,
  decodeSegmentHeader,
  encodeSegment,
  segmentBatchRegion,
} from '../../src/storage/segment.js';
import { SegmentFormatError } from '../../src/storage/segment-error.js';
import { contiguousBatches } from './segment-fixtures.js';

const createdAt = 1_700_000_123_456;

function expectFormatError(fn: () => unknown, reason: string) {
  expect(fn).toThrow(expect.objectContaining({ name: 'SegmentFormatError', reason }));
}

describe('encodeSegment / decodeSegment', () => {
  it('round-trips header, footer and zero-copy batches', () => {
    const batches = contiguousBatches(100, [3, 1, 5]);
    const encoded = encodeSegment({ baseOffset: 100, batches, createdAt });
    expect(encoded).toMatchObject({ lastOffset: 108, messageCount: 9, batchCount: 3 });
    const size = 32 + batches.reduce((n, b) => n + b.length, 0) + 16;
    expect(encoded.segment.length).toBe(size);

    const decoded = decodeSegment(encoded.segment);
    expect(decoded).toMatchObject({
      version: 1,
      flags: 0,
      baseOffset: 100,
      messageCount: 9,
      createdAt,
      lastOffset: 108,
      crc: crc32(encoded.segment.subarray(32, size - 16)),
    });
    expect(decoded.batches.map((b) => b.bytes)).toEqual(batches);
    expect(decoded.batches.map((b) => b.position)).toEqual([
      32,
      32 + batches[0].length,
      32 + batches[0].length + batches[1].length,
    ]);
    expect(decoded.batches[1].bytes.buffer).toBe(encoded.segment.buffer);
  });

  it('round-trips any contiguous layout (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 50 }),
        fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 0, max: 200 }),
        (baseOffset, counts, valueSize) => {
          const batches = contiguousBatches(baseOffset, counts, valueSize);
          const encoded = encodeSegment({ baseOffset, batches, createdAt });
          const total = counts.reduce((a, b) => a + b, 0);
          const decoded = decodeSegment(encoded.segment);
          expect(decoded.lastOffset).toBe(baseOffset + total - 1);
          expect(decoded.messageCount).toBe(total);
          expect(decoded.batches.map((b) => b.bytes)).toEqual(batches);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('accepts offset gaps between batches but not overlaps or a wrong first offset', () => {
    const [a] = contiguousBatches(0, [2]);
    const [b] = contiguousBatches(10, [1]);
    expect(
      decodeSegment(encodeSegment({ baseOffset: 0, batches: [a, b] }).segment).lastOffset,
    ).toBe(10);
    expect(() => encodeSegment({ baseOffset: 0, batches: [b, a] })).toThrow(RangeError);
    expect(() => encodeSegment({ baseOffset: 1, batches: [a] })).toThrow(RangeError);
    expect(() => encodeSegment({ baseOffset: 0, batches: [] })).toThrow(RangeError);
    expect(() => encodeSegment({ baseOffset: 0, batches: [a.subarray(0, 40)] })).toThrow(
      RangeError,
    );
  });

  it('reads header and footer from ranged slices and locates the batch region', () => {
    const { segment } = encodeSegment({
      baseOffset: 7,
      batches: contiguousBatches(7, [2, 2]),
      createdAt,
    });
    expect(decodeSegmentHeader(segment.subarray(0, 32))).toEqual({
      version: 1,
      flags: 0,
      baseOffset: 7,
      messageCount: 4,
      createdAt,
    });
    expect(decodeSegmentFooter(segment.subarray(segment.length - 16)).lastOffset).toBe(10);
    const region = segmentBatchRegion(segment.length);
    expect(region).toEqual({ start: 32, end: segment.length - 16 });
    expect(decodeSegment(segment).batches.map((b) => b.bytes)).toEqual(
      contiguousBatches(7, [2, 2]),
    );
  });
});

describe('corruption detection', () => {
  const { segment } = encodeSegment({
    baseOffset: 0,
    batches: contiguousBatches(0, [2, 3]),
    createdAt,
  });

  it('bad header magic', () => {
    const bad = Buffer.from(segment);
    bad.write('KAFZ', 0, 'latin1');
    expectFormatError(() => decodeSegment(bad), 'bad-magic');
  });

  it('unknown version', () => {
    const bad = Buffer.from(segment);
    bad.writeUInt16BE(2, 4);
    expectFormatError(() => decodeSegment(bad), 'unsupported-version');
  });

  it('bad footer magic', () => {
    const bad = Buffer.from(segment);
    bad.write('END?', bad.length - 4, 'latin1');
    expectFormatError(() => decodeSegment(bad), 'bad-footer-magic');
  });

  it('truncated objects', () => {
    expectFormatError(() => decodeSegment(segment.subarray(0, 47)), 'truncated');
    expectFormatError(
      () => decodeSegment(segment.subarray(0, segment.length - 1)),
      'bad-footer-magic',
    );
    expectFormatError(() => decodeSegmentHeader(segment.subarray(0, 31)), 'truncated');
    expectFormatError(() => decodeSegmentFooter(segment.subarray(0, 15)), 'truncated');
  });

  it('CRC mismatch for any flipped byte in the batch region', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 32, max: segment.length - 17 }),
        fc.integer({ min: 1, max: 255 }),
        (index, mask) => {
          const bad = Buffer.from(segment);
          bad[index] ^= mask;
          expectFormatError(() => decodeSegment(bad), 'crc-mismatch');
        },
      ),
    );
  });

  it('header or footer fields that disagree with the batches', () => {
    const badCount = Buffer.from(segment);
    badCount.writeInt32BE(6, 16);
    expectFormatError(() => decodeSegment(badCount), 'inconsistent');
    const badLast = Buffer.from(segment);
    badLast.writeUInt32BE(9, badLast.length - 8);
    expectFormatError(() => decodeSegment(badLast), 'inconsistent');
    const badBase = Buffer.from(segment);
    badBase.writeUInt32BE(1, 12);
    expectFormatError(() => decodeSegment(badBase), 'inconsistent');
  });

  it('throws only SegmentFormatError for arbitrary bytes, even with valid magics and CRC', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (body) => {
        const forged = Buffer.concat([
          segment.subarray(0, 32),
          Buffer.from(body),
          Buffer.alloc(16),
        ]);
        forged.write('END!', forged.length - 4, 'latin1');
        forged.writeUInt32BE(crc32(forged.subarray(32, forged.length - 16)), forged.length - 16);
        try {
          decodeSegment(forged);
        } catch (error) {
          expect(error).toBeInstanceOf(SegmentFormatError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
