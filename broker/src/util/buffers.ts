/**
 * The bytes of `parts` as one Buffer. Parts that lie back to back in one ArrayBuffer (batches read
 * from one cached segment region) come back as one view of that memory, without a copy; anything
 * else is copied once.
 */
export function joinBuffers(parts: readonly Buffer[], total: number): Buffer {
  if (parts.length === 1) return parts[0];
  const first = parts[0];
  let end = first.byteOffset + first.length;
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i];
    if (part.buffer !== first.buffer || part.byteOffset !== end) return Buffer.concat(parts, total);
    end += part.length;
  }
  return Buffer.from(first.buffer, first.byteOffset, end - first.byteOffset);
}
