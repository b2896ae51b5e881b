import type { TaggedField } from './tagged-fields.js';

// Exact encoded sizes, computed before writing so a message is encoded into one allocation.

export function uvarintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

export function varintSize(v: number): number {
  return uvarintSize(((v << 1) ^ (v >> 31)) >>> 0);
}

export function stringSize(v: string, compact: boolean): number {
  const n = Buffer.byteLength(v, 'utf8');
  return compact ? uvarintSize(n + 1) + n : 2 + n;
}

export function nullableStringSize(v: string | null, compact: boolean): number {
  if (v === null) return compact ? 1 : 2;
  return stringSize(v, compact);
}

export function bytesSize(v: Buffer, compact: boolean): number {
  return compact ? uvarintSize(v.length + 1) + v.length : 4 + v.length;
}

export function nullableBytesSize(v: Buffer | null, compact: boolean): number {
  if (v === null) return compact ? 1 : 4;
  return bytesSize(v, compact);
}

export function arrayLengthSize(n: number, compact: boolean): number {
  return compact ? uvarintSize(n + 1) : 4;
}

export function arraySize<T>(items: T[], compact: boolean, item: (v: T) => number): number {
  let size = arrayLengthSize(items.length, compact);
  for (let i = 0; i < items.length; i++) size += item(items[i]);
  return size;
}

export function nullableArraySize<T>(
  items: T[] | null,
  compact: boolean,
  item: (v: T) => number,
): number {
  return items === null ? arrayLengthSize(-1, compact) : arraySize(items, compact, item);
}

/** Size of one tagged field's framing (tag and length) around a payload of dataSize bytes. */
export function taggedFieldSize(tag: number, dataSize: number): number {
  return uvarintSize(tag) + uvarintSize(dataSize) + dataSize;
}

export function rawTaggedFieldsSize(fields: TaggedField[] | undefined): number {
  if (!fields) return 0;
  let size = 0;
  for (const f of fields) size += taggedFieldSize(f.tag, f.data.length);
  return size;
}
