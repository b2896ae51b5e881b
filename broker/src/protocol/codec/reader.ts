import { ProtocolDecodeError } from './errors.js';
import type { TaggedField } from './tagged-fields.js';

const TWO_32 = 4294967296;

/**
 * Sequential reader over a Kafka message. Every read is bounds-checked against `end` and
 * throws ProtocolDecodeError; lengths read from the wire are checked against the bytes that
 * remain before anything is allocated, so hostile input can never cause a large allocation.
 * Byte fields are returned as zero-copy slices of the underlying buffer.
 */
export class Reader {
  offset: number;
  readonly end: number;

  constructor(
    readonly buf: Buffer,
    offset = 0,
    end = buf.length,
  ) {
    this.offset = offset;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  private need(n: number): number {
    const at = this.offset;
    if (n < 0 || at + n > this.end) {
      throw new ProtocolDecodeError(`need ${n} bytes at offset ${at}, have ${this.end - at}`);
    }
    this.offset = at + n;
    return at;
  }

  int8(): number {
    return this.buf.readInt8(this.need(1));
  }

  bool(): boolean {
    return this.buf[this.need(1)] !== 0;
  }

  int16(): number {
    return this.buf.readInt16BE(this.need(2));
  }

  uint16(): number {
    return this.buf.readUInt16BE(this.need(2));
  }

  int32(): number {
    return this.buf.readInt32BE(this.need(4));
  }

  uint32(): number {
    return this.buf.readUInt32BE(this.need(4));
  }

  /** int64 as a JS number: exact for |v| < 2^53, which covers offsets, timestamps and ids in practice. */
  int64(): number {
    const at = this.need(8);
    return this.buf.readInt32BE(at) * TWO_32 + this.buf.readUInt32BE(at + 4);
  }

  float64(): number {
    return this.buf.readDoubleBE(this.need(8));
  }

  /** A UUID in its canonical 8-4-4-4-12 hex form. */
  uuid(): string {
    const at = this.need(16);
    const hex = this.buf.toString('hex', at, at + 16);
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  uvarint(): number {
    let value = 0;
    let shift = 0;
    for (;;) {
      const b = this.buf[this.need(1)];
      if (shift === 28) {
        if (b > 0x0f) throw new ProtocolDecodeError('unsigned varint does not fit in 32 bits');
        return value + b * 2 ** 28;
      }
      value |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return value >>> 0;
      shift += 7;
    }
  }

  varint(): number {
    const u = this.uvarint();
    return (u >>> 1) ^ -(u & 1);
  }

  private stringOfLength(n: number): string {
    const at = this.need(n);
    return this.buf.toString('utf8', at, at + n);
  }

  nullableString(): string | null {
    const n = this.int16();
    if (n === -1) return null;
    if (n < 0) throw new ProtocolDecodeError(`invalid string length ${n}`);
    return this.stringOfLength(n);
  }

  string(): string {
    const s = this.nullableString();
    if (s === null) throw new ProtocolDecodeError('null value for a non-nullable string');
    return s;
  }

  compactNullableString(): string | null {
    const n = this.uvarint() - 1;
    return n === -1 ? null : this.stringOfLength(n);
  }

  compactString(): string {
    const s = this.compactNullableString();
    if (s === null) throw new ProtocolDecodeError('null value for a non-nullable string');
    return s;
  }

  /** A zero-copy slice of the next n bytes. */
  slice(n: number): Buffer {
    const at = this.need(n);
    return this.buf.subarray(at, at + n);
  }

  nullableBytes(): Buffer | null {
    const n = this.int32();
    if (n === -1) return null;
    if (n < 0) throw new ProtocolDecodeError(`invalid bytes length ${n}`);
    return this.slice(n);
  }

  bytes(): Buffer {
    const b = this.nullableBytes();
    if (b === null) throw new ProtocolDecodeError('null value for non-nullable bytes');
    return b;
  }

  compactNullableBytes(): Buffer | null {
    const n = this.uvarint() - 1;
    return n === -1 ? null : this.slice(n);
  }

  compactBytes(): Buffer {
    const b = this.compactNullableBytes();
    if (b === null) throw new ProtocolDecodeError('null value for non-nullable bytes');
    return b;
  }

  /** Array length, -1 for null. Every element takes at least one byte, which bounds n. */
  arrayLength(compact: boolean): number {
    const n = compact ? this.uvarint() - 1 : this.int32();
    if (n < -1 || n > this.end - this.offset) {
      throw new ProtocolDecodeError(
        `invalid array length ${n} with ${this.end - this.offset} bytes left`,
      );
    }
    return n;
  }

  /**
   * Reads a tagged-field section. `known` decodes a tag it understands from a reader bounded
   * to that field and returns true; other tags are returned as raw fields (preserved).
   */
  taggedFields(known: (tag: number, r: Reader) => boolean): TaggedField[] | undefined {
    let unknown: TaggedField[] | undefined;
    const count = this.uvarint();
    if (count > this.end - this.offset)
      throw new ProtocolDecodeError(`invalid tagged field count ${count}`);
    for (let i = 0; i < count; i++) {
      const tag = this.uvarint();
      const size = this.uvarint();
      const at = this.need(size);
      const field = new Reader(this.buf, at, at + size);
      if (!known(tag, field))
        (unknown ??= []).push({ tag, data: this.buf.subarray(at, at + size) });
    }
    return unknown;
  }
}

export function readArray<T>(r: Reader, compact: boolean, item: (r: Reader) => T): T[] {
  const n = r.arrayLength(compact);
  if (n < 0) throw new ProtocolDecodeError('null value for a non-nullable array');
  const out = new Array<T>(n);
  for (let i = 0; i < n; i++) out[i] = item(r);
  return out;
}

export function readNullableArray<T>(
  r: Reader,
  compact: boolean,
  item: (r: Reader) => T,
): T[] | null {
  const n = r.arrayLength(compact);
  if (n < 0) return null;
  const out = new Array<T>(n);
  for (let i = 0; i < n; i++) out[i] = item(r);
  return out;
}
