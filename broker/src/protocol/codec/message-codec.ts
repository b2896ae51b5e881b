import { Reader } from './reader.js';
import { Writer } from './writer.js';
import { ProtocolDecodeError } from './errors.js';

/** What the generator emits for every message: its versions and its three functions. */
export interface MessageCodec<T> {
  name: string;
  apiKey: number;
  minVersion: number;
  maxVersion: number;
  /** Lowest flexible version, or -1 when no version is flexible. */
  flexibleFrom: number;
  read(r: Reader, version: number): T;
  write(w: Writer, m: T, version: number): void;
  size(m: T, version: number): number;
}

/** Decodes a whole buffer; trailing bytes are an error. */
export function decode<T>(codec: MessageCodec<T>, buf: Buffer, version: number): T {
  const r = new Reader(buf);
  const m = codec.read(r, version);
  if (r.remaining !== 0) {
    throw new ProtocolDecodeError(`${codec.name} v${version}: ${r.remaining} trailing bytes`);
  }
  return m;
}

/** Encodes into exactly one buffer of the computed size. */
export function encode<T>(codec: MessageCodec<T>, m: T, version: number): Buffer {
  const size = codec.size(m, version);
  const w = Writer.alloc(size);
  codec.write(w, m, version);
  if (w.offset !== size)
    throw new Error(`${codec.name} v${version}: wrote ${w.offset} of ${size} bytes`);
  return w.buf;
}
