import { createRequire } from 'node:module';
import fc from 'fast-check';
import { parseBatchHeader } from '../../../src/protocol/records/record-batch.js';
import {
  ProducerRecord,
  buildRecordBatch,
} from '../../../src/protocol/records/record-batch-builder.js';
import { decodeRecords } from '../../../src/protocol/records/record-batch-decoder.js';
import { RecordBatchError } from '../../../src/protocol/records/record-batch-error.js';

// kafkajs's own batch encoder (with its own JS CRC-32C) is an independent implementation of the
// v2 format: identical bytes from both is the golden check.
const require = createRequire(import.meta.url);
const { RecordBatch: KafkaJsRecordBatch } = require('kafkajs/src/protocol/recordBatch/v0');
const KafkaJsRecord = require('kafkajs/src/protocol/recordBatch/record/v0');

const bytes = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));
const nullableBytes = fc.option(bytes, { nil: null });
const baseTimestamp = 1_700_000_000_000;
const producerRecord: fc.Arbitrary<ProducerRecord> = fc.record({
  key: nullableBytes,
  value: nullableBytes,
  headers: fc.array(fc.record({ key: fc.string({ maxLength: 20 }), value: nullableBytes }), {
    maxLength: 4,
  }),
  timestamp: fc.integer({ min: baseTimestamp - 2 ** 40, max: baseTimestamp + 2 ** 40 }),
});

describe('buildRecordBatch and decodeRecords', () => {
  it('round-trip any records and options', () => {
    fc.assert(
      fc.property(
        fc.array(producerRecord, { minLength: 1, maxLength: 30 }),
        fc.record({
          baseOffset: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER - 100 }),
          producerId: fc.integer({ min: -1, max: Number.MAX_SAFE_INTEGER }),
          producerEpoch: fc.integer({ min: -1, max: 32767 }),
          baseSequence: fc.integer({ min: -1, max: 0x7fffffff }),
          transactional: fc.boolean(),
        }),
        (records, options) => {
          const batch = buildRecordBatch(records, options);
          const header = parseBatchHeader(batch);
          const { transactional, ...fields } = options;
          expect(header).toMatchObject({
            ...fields,
            isTransactional: transactional,
            batchLength: batch.length - 12,
            recordCount: records.length,
            lastOffsetDelta: records.length - 1,
            baseTimestamp: records[0].timestamp,
            maxTimestamp: Math.max(...records.map((r) => r.timestamp!)),
          });
          const decoded = decodeRecords(batch);
          expect(decoded).toEqual(
            records.map((r, i) => ({
              offset: options.baseOffset + i,
              timestamp: r.timestamp,
              key: r.key,
              value: r.value,
              headers: r.headers,
            })),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('uses the batch timestamp for records without one', () => {
    const batch = buildRecordBatch([{ key: null, value: null }], { timestamp: 123 });
    expect(decodeRecords(batch)[0].timestamp).toBe(123);
    expect(parseBatchHeader(batch).maxTimestamp).toBe(123);
  });

  it('refuses an empty record list', () => {
    expect(() => buildRecordBatch([])).toThrow(RangeError);
  });

  it('produces exactly the bytes kafkajs produces for the same batch', async () => {
    const records = [
      { key: Buffer.from('k1'), value: Buffer.from('hello'), timestamp: baseTimestamp },
      {
        key: null,
        value: Buffer.from('world'),
        headers: [{ key: 'trace', value: Buffer.from('abc') }],
        timestamp: baseTimestamp + 300,
      },
      { key: Buffer.from(''), value: null, timestamp: baseTimestamp - 70_000 },
    ];
    const ours = buildRecordBatch(records, {
      baseOffset: 1000,
      partitionLeaderEpoch: 3,
      producerId: 77,
      producerEpoch: 1,
      baseSequence: 5,
    });
    const encoder = await KafkaJsRecordBatch({
      firstOffset: '1000',
      firstTimestamp: baseTimestamp,
      maxTimestamp: baseTimestamp + 300,
      partitionLeaderEpoch: 3,
      lastOffsetDelta: 2,
      producerId: '77',
      producerEpoch: 1,
      firstSequence: 5,
      records: records.map((r, i) =>
        KafkaJsRecord({
          offsetDelta: i,
          timestampDelta: r.timestamp - baseTimestamp,
          key: r.key,
          value: r.value,
          headers: Object.fromEntries((r.headers ?? []).map((h) => [h.key, h.value])),
        }),
      ),
    });
    expect(ours.toString('hex')).toBe(encoder.buffer.toString('hex'));
  });
});

describe('decodeRecords on hostile input', () => {
  it('refuses compressed batches', () => {
    const batch = buildRecordBatch([{ key: null, value: Buffer.from('x') }], { timestamp: 1 });
    batch.writeInt16BE(1, 21);
    const { crc32c } = require('@node-rs/crc32');
    batch.writeUInt32BE(crc32c(batch.subarray(21)), 17);
    expect(() => decodeRecords(batch)).toThrow(
      expect.objectContaining({ reason: 'unsupported-compression', errorCode: 76 }),
    );
  });

  it('throws only RecordBatchError when the record bytes are garbage with a valid CRC', () => {
    const { crc32c } = require('@node-rs/crc32');
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 200 }),
        fc.integer({ min: 1, max: 50 }),
        (body, count) => {
          const batch = buildRecordBatch([{ key: null, value: null }], { timestamp: 1 });
          const forged = Buffer.concat([batch.subarray(0, 61), Buffer.from(body)]);
          forged.writeInt32BE(forged.length - 12, 8);
          forged.writeInt32BE(count - 1, 23);
          forged.writeInt32BE(count, 57);
          forged.writeUInt32BE(crc32c(forged.subarray(21)), 17);
          try {
            decodeRecords(forged);
          } catch (error) {
            expect(error).toBeInstanceOf(RecordBatchError);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
