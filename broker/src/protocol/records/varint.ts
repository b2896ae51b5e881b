// Zig-zag variable-length integers as used inside v2 records (protobuf encoding). Values are JS
// numbers; 64-bit fields ("varlong") are limited to the safe integer range.
import { RecordBatchError } from './record-batch-error.js';

/** A read position that decoding functions advance. */
export interface Cursor {
  buf: Buffer;
  pos: number;
  /** Exclusive end of the readable region. */
  end: number;
}

function zigZag(value: number): number {
  if (!Number.isSafeInteger(value) || Math.abs(value) > Number.MAX_SAFE_INTEGER / 2) {
    throw new RangeError(`varint value ${value} is out of range`);
  }
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

export function varintSize(value: number): number {
  let unsigned = zigZag(value);
  let size = 1;
  while (unsigned >= 0x80) {
    unsigned = Math.floor(unsigned / 0x80);
    size++;
  }
  return size;
}

/** Writes `value` at `offset` and returns the offset after it. */
export function writeVarint(buf: Buffer, offset: number, value: number): number {
  let unsigned = zigZag(value);
  while (unsigned >= 0x80) {
    buf[offset++] = (unsigned % 0x80) | 0x80;
    unsigned = Math.floor(unsigned / 0x80);
  }
  buf[offset++] = unsigned;
  return offset;
}

function readUnsigned(cursor: Cursor, maxBytes: number): number {
  let result = 0;
  let scale = 1;
  for (let i = 0; i < maxBytes; i++) {
    if (cursor.pos >= cursor.end) {
      throw new RecordBatchError('invalid-record', 'varint runs past the end of the record');
    }
    const byte = cursor.buf[cursor.pos++];
    result += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) {
      if (!Number.isSafeInteger(result)) {
        throw new RecordBatchError('invalid-record', 'varint exceeds the safe integer range');
      }
      return result;
    }
    scale *= 0x80;
  }
  throw new RecordBatchError('invalid-record', `varint longer than ${maxBytes} bytes`);
}

function unZigZag(unsigned: number): number {
  return unsigned % 2 === 0 ? unsigned / 2 : -(unsigned + 1) / 2;
}

/** Reads a zig-zag varint of at most 32 bits. */
export function readVarint(cursor: Cursor): number {
  const value = unZigZag(readUnsigned(cursor, 5));
  if (value > 0x7fffffff || value < -0x80000000) {
    throw new RecordBatchError('invalid-record', `varint ${value} does not fit in 32 bits`);
  }
  return value;
}

/** Reads a zig-zag varlong (64 bits on the wire, safe integers only here). */
export function readVarlong(cursor: Cursor): number {
  return unZigZag(readUnsigned(cursor, 10));
}
