// A reader written only from docs/storage-format.md, sharing no code with broker/src/storage: if
// the encoder and the documentation drift apart, this fails. encodeSegment is imported only to
// produce input.
import { readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { buildRecordBatch } from '../../src/protocol/records/record-batch-builder.js';
import { encodeSegment } from '../../src/storage/segment.js';

interface DocBatch {
  position: number;
  baseOffset: bigint;
  lastOffset: bigint;
  recordCount: number;
  bytes: Buffer;
}

function parseSegment(buf: Buffer) {
  const size = buf.length;
  expect(size).toBeGreaterThanOrEqual(48);
  expect(buf.toString('latin1', 0, 4)).toBe('KAFS');
  expect(buf.readUInt16BE(4)).toBe(1);
  expect(buf.toString('latin1', size - 4)).toBe('END!');
  const header = {
    flags: buf.readUInt16BE(6),
    baseOffset: buf.readBigInt64BE(8),
    messageCount: buf.readInt32BE(16),
    createdAt: buf.readBigInt64BE(20),
    reserved: buf.readUInt32BE(28),
  };
  const footer = { crc: buf.readUInt32BE(size - 16), lastOffset: buf.readBigInt64BE(size - 12) };
  expect(crc32(buf.subarray(32, size - 16))).toBe(footer.crc);
  const batches: DocBatch[] = [];
  let p = 32;
  while (p < size - 16) {
    const end = p + 12 + buf.readInt32BE(p + 8);
    expect(buf[p + 16]).toBe(2);
    expect(end).toBeLessThanOrEqual(size - 16);
    const baseOffset = buf.readBigInt64BE(p);
    batches.push({
      position: p,
      baseOffset,
      lastOffset: baseOffset + BigInt(buf.readInt32BE(p + 23)),
      recordCount: buf.readInt32BE(p + 57),
      bytes: buf.subarray(p, end),
    });
    p = end;
  }
  expect(p).toBe(size - 16);
  expect(batches[0].baseOffset).toBe(header.baseOffset);
  expect(batches.reduce((n, b) => n + b.recordCount, 0)).toBe(header.messageCount);
  expect(batches[batches.length - 1].lastOffset).toBe(footer.lastOffset);
  return { ...header, ...footer, batches };
}

function parseIndex(buf: Buffer) {
  expect(buf.toString('latin1', 0, 4)).toBe('IDX\0');
  expect(buf.readUInt16BE(4)).toBe(1);
  const count = buf.readInt32BE(6);
  expect(buf.length).toBe(16 + 12 * count);
  const entries = Array.from({ length: count }, (_, i) => ({
    offset: buf.readBigInt64BE(16 + 12 * i),
    position: buf.readInt32BE(24 + 12 * i),
  }));
  expect(entries[0].position).toBe(32);
  return { interval: buf.readInt32BE(10), reserved: buf.readUInt16BE(14), entries };
}

/** The documented lookup: last entry <= t, then skip whole batches that end before t. */
function readFrom(segment: Buffer, index: ReturnType<typeof parseIndex>, t: bigint) {
  const entry = [...index.entries].reverse().find((e) => e.offset <= t) ?? index.entries[0];
  let p = entry.position;
  while (p < segment.length - 16) {
    const last = segment.readBigInt64BE(p) + BigInt(segment.readInt32BE(p + 23));
    if (last >= t) return p;
    p += 12 + segment.readInt32BE(p + 8);
  }
  return p;
}

function hexBlock(doc: string, marker: string): Buffer {
  const block = doc.split(`<!-- ${marker} -->`)[1].split('```')[1];
  const hex = block
    .split('\n')
    .filter((line) => line.includes(':'))
    .map((line) => line.split(':')[1].replace(/\s+/g, ''))
    .join('');
  return Buffer.from(hex, 'hex');
}

describe('independent reader (from docs/storage-format.md)', () => {
  it('parses the documented example, which encodeSegment still produces byte for byte', () => {
    const doc = readFileSync(new URL('../../../docs/storage-format.md', import.meta.url), 'utf8');
    const kfs = hexBlock(doc, 'example-kfs');
    const index = hexBlock(doc, 'example-index');
    const ts = 1_700_000_000_000;
    const batch1 = buildRecordBatch(
      [{ key: Buffer.from('k'), value: Buffer.from('hello'), timestamp: ts }],
      { baseOffset: 0 },
    );
    const batch2 = buildRecordBatch(
      [
        { key: null, value: Buffer.from('world'), timestamp: ts + 5 },
        { key: null, value: Buffer.from('!'), timestamp: ts + 7 },
      ],
      { baseOffset: 1 },
    );
    const encoded = encodeSegment({
      baseOffset: 0,
      batches: [batch1, batch2],
      createdAt: ts,
      indexIntervalBytes: 64,
    });
    expect(encoded.segment.toString('hex')).toBe(kfs.toString('hex'));
    expect(encoded.index.toString('hex')).toBe(index.toString('hex'));

    const segment = parseSegment(kfs);
    expect(segment).toMatchObject({
      flags: 0,
      baseOffset: 0n,
      messageCount: 3,
      createdAt: BigInt(ts),
      reserved: 0,
      lastOffset: 2n,
    });
    expect(segment.batches.map((b) => [b.position, b.bytes.length])).toEqual([
      [32, 74],
      [106, 81],
    ]);
    expect(parseIndex(index)).toEqual({
      interval: 64,
      reserved: 0,
      entries: [
        { offset: 0n, position: 32 },
        { offset: 1n, position: 106 },
      ],
    });
  });

  it('parses any segment encodeSegment produces and finds every offset through the index', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 52 }),
        fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 2000 }),
        fc.integer({ min: 0, max: 2 ** 42 }),
        (baseOffset, counts, interval, createdAt) => {
          let next = baseOffset;
          const batches = counts.map((count) => {
            const records = Array.from({ length: count }, () => ({
              key: null,
              value: Buffer.alloc(count * 7, 1),
            }));
            const batch = buildRecordBatch(records, { baseOffset: next, timestamp: createdAt });
            next += count;
            return batch;
          });
          const encoded = encodeSegment({
            baseOffset,
            batches,
            createdAt,
            indexIntervalBytes: interval,
          });
          const segment = parseSegment(encoded.segment);
          expect(segment.baseOffset).toBe(BigInt(baseOffset));
          expect(segment.lastOffset).toBe(BigInt(next - 1));
          expect(segment.createdAt).toBe(BigInt(createdAt));
          expect(segment.batches.map((b) => b.bytes)).toEqual(batches);

          const index = parseIndex(encoded.index);
          expect(index.interval).toBe(interval);
          const starts = new Map(segment.batches.map((b) => [b.position, b]));
          for (const entry of index.entries) {
            expect(starts.get(entry.position)?.baseOffset).toBe(entry.offset);
          }
          for (const batch of segment.batches) {
            for (let t = batch.baseOffset; t <= batch.lastOffset; t++) {
              expect(readFrom(encoded.segment, index, t)).toBe(batch.position);
            }
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});
