import { crc32c } from '@node-rs/crc32';
import fc from 'fast-check';
import {
  BATCH_HEADER_SIZE,
  parseBatchHeader,
  patchBaseOffset,
  patchPartitionLeaderEpoch,
  splitBatches,
} from '../../../src/protocol/records/record-batch.js';
import {
  buildRecordBatch,
  writeBatchCrc,
} from '../../../src/protocol/records/record-batch-builder.js';
import { RecordBatchError } from '../../../src/protocol/records/record-batch-error.js';

const record = (value: string) => ({ key: null, value: Buffer.from(value) });

function batchOf(values: string[], options = {}): Buffer {
  return buildRecordBatch(values.map(record), { timestamp: 1_700_000_000_000, ...options });
}

function expectBatchError(fn: () => unknown, reason: string, errorCode: number, position = 0) {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(RecordBatchError);
    expect(error).toMatchObject({ reason, errorCode, position });
    return;
  }
  throw new Error(`expected RecordBatchError ${reason}`);
}

describe('CRC-32C', () => {
  it('matches the standard check value', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  });
});

describe('parseBatchHeader', () => {
  it('reads every header field and decodes the attributes', () => {
    const batch = buildRecordBatch(
      [
        { key: null, value: Buffer.from('a'), timestamp: 1_700_000_000_005 },
        { key: null, value: Buffer.from('b'), timestamp: 1_700_000_000_009 },
      ],
      {
        baseOffset: 2 ** 40,
        partitionLeaderEpoch: 7,
        producerId: 2 ** 45 + 3,
        producerEpoch: 4,
        baseSequence: 11,
        transactional: true,
        timestampType: 'log-append-time',
      },
    );
    const header = parseBatchHeader(batch);
    expect(header).toEqual({
      baseOffset: 2 ** 40,
      batchLength: batch.length - 12,
      partitionLeaderEpoch: 7,
      magic: 2,
      crc: crc32c(batch.subarray(21)),
      attributes: 0x18,
      lastOffsetDelta: 1,
      baseTimestamp: 1_700_000_000_005,
      maxTimestamp: 1_700_000_000_009,
      producerId: 2 ** 45 + 3,
      producerEpoch: 4,
      baseSequence: 11,
      recordCount: 2,
      compression: 'none',
      timestampType: 'log-append-time',
      isTransactional: true,
      isControl: false,
      hasDeleteHorizon: false,
    });
  });

  it('decodes each compression codec and the control and delete-horizon bits', () => {
    const codecs = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
    codecs.forEach((codec, id) => {
      const batch = batchOf(['x']);
      batch.writeInt16BE(id | 0x20 | 0x40, 21);
      writeBatchCrc(batch);
      expect(parseBatchHeader(batch)).toMatchObject({
        compression: codec,
        isControl: true,
        hasDeleteHorizon: true,
        isTransactional: false,
        timestampType: 'create-time',
      });
    });
  });

  it('reads producer fields of -1 as -1', () => {
    const header = parseBatchHeader(batchOf(['x']));
    expect(header).toMatchObject({ producerId: -1, producerEpoch: -1, baseSequence: -1 });
    expect(header.partitionLeaderEpoch).toBe(-1);
  });

  it('parses a batch at an offset inside a larger buffer', () => {
    const batch = batchOf(['x', 'y', 'z'], { baseOffset: 5 });
    const buf = Buffer.concat([Buffer.alloc(9, 0xff), batch]);
    expect(parseBatchHeader(buf, 9)).toMatchObject({ baseOffset: 5, recordCount: 3 });
  });
});

describe('batch errors map to the Kafka Produce error codes', () => {
  it('truncated header: INVALID_RECORD (87)', () => {
    expectBatchError(() => parseBatchHeader(batchOf(['x']).subarray(0, 16)), 'truncated', 87);
  });

  it('truncated body: INVALID_RECORD (87)', () => {
    const batch = batchOf(['hello']);
    expectBatchError(() => parseBatchHeader(batch.subarray(0, batch.length - 1)), 'truncated', 87);
  });

  it.each([0, 1])('magic %i (old message format): INVALID_RECORD (87)', (magic) => {
    const batch = batchOf(['x']);
    batch.writeInt8(magic, 16);
    expectBatchError(() => parseBatchHeader(batch), 'old-message-format', 87);
  });

  it.each([3, -1, 127])('unknown magic %i: CORRUPT_MESSAGE (2)', (magic) => {
    const batch = batchOf(['x']);
    batch.writeInt8(magic, 16);
    expectBatchError(() => parseBatchHeader(batch), 'invalid-magic', 2);
  });

  it('CRC mismatch: CORRUPT_MESSAGE (2)', () => {
    const batch = batchOf(['payload']);
    batch[batch.length - 2] ^= 0x01;
    expectBatchError(() => parseBatchHeader(batch), 'crc-mismatch', 2);
  });

  it('a flipped CRC byte is a mismatch too', () => {
    const batch = batchOf(['payload']);
    batch[18] ^= 0x80;
    expectBatchError(() => parseBatchHeader(batch), 'crc-mismatch', 2);
  });

  it.each([-1, 0, 13, 48])('batch length %i below the v2 minimum: CORRUPT_MESSAGE (2)', (len) => {
    const batch = batchOf(['x']);
    batch.writeInt32BE(len, 8);
    expectBatchError(() => parseBatchHeader(batch), 'invalid-batch-length', 2);
  });

  it('batch length beyond the buffer: INVALID_RECORD (87), without allocating it', () => {
    const batch = batchOf(['x']);
    batch.writeInt32BE(0x7fffffff, 8);
    expectBatchError(() => parseBatchHeader(batch), 'truncated', 87);
  });

  it('batch above maxBatchBytes: MESSAGE_TOO_LARGE (10)', () => {
    const batch = batchOf(['0123456789']);
    expect(parseBatchHeader(batch, 0, { maxBatchBytes: batch.length }).recordCount).toBe(1);
    expectBatchError(
      () => parseBatchHeader(batch, 0, { maxBatchBytes: batch.length - 1 }),
      'batch-too-large',
      10,
    );
  });

  it.each([5, 6, 7])('unknown compression id %i: INVALID_RECORD (87)', (id) => {
    const batch = batchOf(['x']);
    batch.writeInt16BE(id, 21);
    writeBatchCrc(batch);
    expectBatchError(() => parseBatchHeader(batch), 'unknown-compression', 87);
  });

  it('negative last offset delta: INVALID_RECORD (87)', () => {
    const batch = batchOf(['x']);
    batch.writeInt32BE(-1, 23);
    writeBatchCrc(batch);
    expectBatchError(() => parseBatchHeader(batch), 'invalid-offset-range', 87);
  });

  it.each([-1, 0, 1, 3])('record count %i with last offset delta 1: INVALID_RECORD (87)', (n) => {
    const batch = batchOf(['x', 'y']);
    batch.writeInt32BE(n, 57);
    writeBatchCrc(batch);
    expectBatchError(() => parseBatchHeader(batch), 'invalid-record-count', 87);
  });
});

describe('splitBatches', () => {
  it('returns zero-copy views of each batch in order', () => {
    const batches = [batchOf(['a']), batchOf(['b', 'c'], { baseOffset: 1 }), batchOf(['d'])];
    const records = Buffer.concat(batches);
    const split = splitBatches(records);
    expect(split.map((b) => b.bytes)).toEqual(batches);
    expect(split.map((b) => b.header.recordCount)).toEqual([1, 2, 1]);
    expect(split[1].bytes.buffer).toBe(records.buffer);
    records[split[1].bytes.byteOffset - records.byteOffset] = 0x42;
    expect(split[1].bytes[0]).toBe(0x42);
  });

  it('returns no batches for empty records', () => {
    expect(splitBatches(Buffer.alloc(0))).toEqual([]);
  });

  it('reports the position of the bad batch', () => {
    const first = batchOf(['a']);
    const second = batchOf(['b']);
    second[second.length - 1] ^= 0xff;
    expectBatchError(
      () => splitBatches(Buffer.concat([first, second])),
      'crc-mismatch',
      2,
      first.length,
    );
  });

  it('refuses trailing bytes after the last batch', () => {
    const first = batchOf(['a']);
    expectBatchError(
      () => splitBatches(Buffer.concat([first, Buffer.alloc(5)])),
      'truncated',
      87,
      first.length,
    );
  });

  it('throws only RecordBatchError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 160 }), fc.boolean(), (bytes, forceMagic) => {
        const garbage = Buffer.from(bytes);
        if (forceMagic && garbage.length > 16) garbage[16] = 2;
        try {
          splitBatches(garbage);
        } catch (error) {
          expect(error).toBeInstanceOf(RecordBatchError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('detects any single flipped byte outside baseOffset and partitionLeaderEpoch', () => {
    const batch = batchOf(['some value', 'another value']);
    const covered = fc.integer({ min: 8, max: batch.length - 1 }).filter((i) => i < 12 || i >= 16);
    fc.assert(
      fc.property(covered, fc.integer({ min: 1, max: 255 }), (index, mask) => {
        const copy = Buffer.from(batch);
        copy[index] ^= mask;
        expect(() => splitBatches(copy)).toThrow(RecordBatchError);
      }),
    );
  });
});

describe('patching fields the CRC does not cover', () => {
  it('patchBaseOffset keeps the batch valid and sets the offset', () => {
    const batch = batchOf(['a', 'b']);
    patchBaseOffset(batch, 0, 2 ** 50 + 7);
    expect(parseBatchHeader(batch).baseOffset).toBe(2 ** 50 + 7);
  });

  it('patchPartitionLeaderEpoch keeps the batch valid and sets the epoch', () => {
    const batch = batchOf(['a']);
    patchPartitionLeaderEpoch(batch, 0, 42);
    expect(parseBatchHeader(batch).partitionLeaderEpoch).toBe(42);
  });

  it('patches a batch in place inside a larger buffer', () => {
    const buf = Buffer.concat([batchOf(['a']), batchOf(['b'])]);
    const second = splitBatches(buf)[1].bytes.byteOffset - buf.byteOffset;
    patchBaseOffset(buf, second, 1);
    patchPartitionLeaderEpoch(buf, second, 3);
    expect(
      splitBatches(buf).map((b) => [b.header.baseOffset, b.header.partitionLeaderEpoch]),
    ).toEqual([
      [0, -1],
      [1, 3],
    ]);
    expect(buf.length).toBe(2 * (BATCH_HEADER_SIZE + 8));
  });

  it('refuses an offset that is not a safe integer', () => {
    expect(() => patchBaseOffset(batchOf(['a']), 0, 2 ** 53)).toThrow(RangeError);
  });
});
