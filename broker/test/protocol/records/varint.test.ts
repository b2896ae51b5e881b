import fc from 'fast-check';
import {
  Cursor,
  readVarint,
  readVarlong,
  varintSize,
  writeVarint,
} from '../../../src/protocol/records/varint.js';
import { RecordBatchError } from '../../../src/protocol/records/record-batch-error.js';

const cursorOver = (bytes: number[] | Buffer): Cursor => {
  const buf = Buffer.from(bytes);
  return { buf, pos: 0, end: buf.length };
};

describe('zig-zag varints', () => {
  it.each([
    [0, [0x00]],
    [-1, [0x01]],
    [1, [0x02]],
    [-64, [0x7f]],
    [64, [0x80, 0x01]],
    [300, [0xd8, 0x04]],
    [0x7fffffff, [0xfe, 0xff, 0xff, 0xff, 0x0f]],
    [-0x80000000, [0xff, 0xff, 0xff, 0xff, 0x0f]],
  ])('encodes %i as the protobuf bytes', (value, expected) => {
    const buf = Buffer.alloc(10);
    expect(writeVarint(buf, 0, value)).toBe(expected.length);
    expect([...buf.subarray(0, expected.length)]).toEqual(expected);
    expect(varintSize(value)).toBe(expected.length);
    expect(readVarint(cursorOver(expected))).toBe(value);
  });

  it('round-trips 32-bit values and varlongs up to 2^52', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (value) => {
        const buf = Buffer.alloc(5);
        const end = writeVarint(buf, 0, value);
        expect(end).toBe(varintSize(value));
        expect(readVarint({ buf, pos: 0, end })).toBe(value);
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1 - 2 ** 52, max: 2 ** 52 - 1 }), (value) => {
        const buf = Buffer.alloc(10);
        const end = writeVarint(buf, 0, value);
        const cursor = { buf, pos: 0, end };
        expect(readVarlong(cursor)).toBe(value);
        expect(cursor.pos).toBe(end);
      }),
    );
  });

  it('refuses truncated, overlong and out-of-range varints with RecordBatchError', () => {
    expect(() => readVarint(cursorOver([0x80]))).toThrow(RecordBatchError);
    expect(() => readVarint(cursorOver([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]))).toThrow(
      RecordBatchError,
    );
    expect(() => readVarint(cursorOver([0x80, 0x80, 0x80, 0x80, 0x10]))).toThrow(RecordBatchError);
    expect(() => readVarlong(cursorOver(Array(10).fill(0xff)))).toThrow(RecordBatchError);
  });
});
