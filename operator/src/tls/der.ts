/**
 * The few DER (X.690) encodings an X.509 certificate needs. Encoding only: certificates are read
 * back with node:crypto's X509Certificate.
 */

function length(n: number): Buffer {
  if (n < 0x80) {
    return Buffer.from([n]);
  }
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) {
    bytes.unshift(v & 0xff);
  }
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), length(content.length), content]);
}

export const sequence = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
export const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
export const boolean = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0x00]));
export const octetString = (b: Buffer) => tlv(0x04, b);
export const utf8String = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
/** Context-specific constructed tag [n] around already encoded content (EXPLICIT tagging). */
export const explicit = (n: number, content: Buffer) => tlv(0xa0 + n, content);
/** Context-specific primitive tag [n] replacing the universal tag (IMPLICIT tagging). */
export const implicit = (n: number, bytes: Buffer) => tlv(0x80 + n, bytes);

/** A non-negative INTEGER from big-endian magnitude bytes. */
export function unsignedInteger(magnitude: Buffer): Buffer {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) {
    i++;
  }
  const trimmed = magnitude.subarray(i);
  return tlv(0x02, trimmed[0] & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

export const smallInteger = (n: number) => unsignedInteger(Buffer.from([n]));

export function objectIdentifier(oid: string): Buffer {
  const parts = oid.split('.').map(Number);
  const bytes = [parts[0] * 40 + parts[1]];
  for (const part of parts.slice(2)) {
    const chunk = [part & 0x7f];
    for (let v = Math.floor(part / 128); v > 0; v = Math.floor(v / 128)) {
      chunk.unshift(0x80 | (v & 0x7f));
    }
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** A BIT STRING of whole bytes, or of `bits` bits when fewer are significant (key usage). */
export function bitString(bytes: Buffer, unusedBits = 0): Buffer {
  return tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), bytes]));
}

/** RFC 5280: UTCTime through 2049, GeneralizedTime after. */
export function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  if (date.getUTCFullYear() < 2050) {
    return tlv(0x17, Buffer.from(`${iso.slice(2)}Z`, 'ascii'));
  }
  return tlv(0x18, Buffer.from(`${iso}Z`, 'ascii'));
}
