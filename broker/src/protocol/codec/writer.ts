import { ProtocolEncodeError } from './errors.js';
import type { TaggedField } from './tagged-fields.js';

const TWO_32 = 4294967296;
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/**
 * Writes a message into one buffer whose exact size was computed beforehand (see size.ts),
 * so encoding a message costs one allocation and no concatenation.
 */
export class Writer {
  offset: number;

  constructor(
    readonly buf: Buffer,
    offset = 0,
  ) {
    this.offset = offset;
  }

  static alloc(size: number): Writer {
    return new Writer(Buffer.allocUnsafe(size));
  }

  int8(v: number): void {
    this.offset = this.buf.writeInt8(v, this.offset);
  }

  bool(v: boolean): void {
    this.buf[this.offset++] = v ? 1 : 0;
  }

  int16(v: number): void {
    this.offset = this.buf.writeInt16BE(v, this.offset);
  }

  uint16(v: number): void {
    this.offset = this.buf.writeUInt16BE(v, this.offset);
  }

  int32(v: number): void {
    this.offset = this.buf.writeInt32BE(v, this.offset);
  }

  uint32(v: number): void {
    this.offset = this.buf.writeUInt32BE(v, this.offset);
  }

  int64(v: number): void {
    if (Number.isSafeInteger(v)) {
      const hi = Math.floor(v / TWO_32);
      this.buf.writeInt32BE(hi, this.offset);
      this.buf.writeUInt32BE(v - hi * TWO_32, this.offset + 4);
      this.offset += 8;
      return;
    }
    // Outside 2^53 a number is already approximate; clamp so int64 extremes survive a round trip.
    let big = BigInt(
      Math.trunc(Number.isFinite(v) ? v : v > 0 ? Number.MAX_VALUE : -Number.MAX_VALUE),
    );
    if (big > INT64_MAX) big = INT64_MAX;
    if (big < INT64_MIN) big = INT64_MIN;
    this.offset = this.buf.writeBigInt64BE(big, this.offset);
  }

  float64(v: number): void {
    this.offset = this.buf.writeDoubleBE(v, this.offset);
  }

  uuid(v: string): void {
    const hex = v.replace(/-/g, '');
    if (hex.length !== 32 || !/^[0-9a-fA-F]+$/.test(hex))
      throw new ProtocolEncodeError(`invalid uuid ${v}`);
    this.offset += this.buf.write(hex, this.offset, 16, 'hex');
  }

  uvarint(v: number): void {
    while (v >= 0x80) {
      this.buf[this.offset++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.offset++] = v;
  }

  varint(v: number): void {
    this.uvarint(((v << 1) ^ (v >> 31)) >>> 0);
  }

  raw(b: Buffer): void {
    this.offset += b.copy(this.buf, this.offset);
  }

  string(v: string): void {
    const n = Buffer.byteLength(v, 'utf8');
    if (n > 0x7fff) throw new ProtocolEncodeError(`string of ${n} bytes is too long`);
    this.int16(n);
    this.offset += this.buf.write(v, this.offset, n, 'utf8');
  }

  nullableString(v: string | null): void {
    if (v === null) this.int16(-1);
    else this.string(v);
  }

  compactString(v: string): void {
    const n = Buffer.byteLength(v, 'utf8');
    this.uvarint(n + 1);
    this.offset += this.buf.write(v, this.offset, n, 'utf8');
  }

  compactNullableString(v: string | null): void {
    if (v === null) this.uvarint(0);
    else this.compactString(v);
  }

  bytes(v: Buffer): void {
    this.int32(v.length);
    this.raw(v);
  }

  nullableBytes(v: Buffer | null): void {
    if (v === null) this.int32(-1);
    else this.bytes(v);
  }

  compactBytes(v: Buffer): void {
    this.uvarint(v.length + 1);
    this.raw(v);
  }

  compactNullableBytes(v: Buffer | null): void {
    if (v === null) this.uvarint(0);
    else this.compactBytes(v);
  }

  arrayLength(n: number, compact: boolean): void {
    if (compact) this.uvarint(n + 1);
    else this.int32(n);
  }

  rawTaggedFields(fields: TaggedField[] | undefined): void {
    if (!fields) return;
    for (const f of fields) {
      this.uvarint(f.tag);
      this.uvarint(f.data.length);
      this.raw(f.data);
    }
  }
}

export function writeArray<T>(
  w: Writer,
  items: T[],
  compact: boolean,
  item: (w: Writer, v: T) => void,
): void {
  w.arrayLength(items.length, compact);
  for (let i = 0; i < items.length; i++) item(w, items[i]);
}

export function writeNullableArray<T>(
  w: Writer,
  items: T[] | null,
  compact: boolean,
  item: (w: Writer, v: T) => void,
): void {
  if (items === null) w.arrayLength(-1, compact);
  else writeArray(w, items, compact, item);
}
