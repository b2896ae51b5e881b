import {
  buildRecordBatch,
  writeBatchCrc,
} from '../../../src/protocol/records/record-batch-builder.js';
import { validateProducedRecords } from '../../../src/protocol/records/produce-rules.js';

const records = [{ key: null, value: Buffer.from('v') }];
const batch = (options = {}) => buildRecordBatch(records, { timestamp: 1, ...options });
const refusal = (reason: string, errorCode: number) =>
  expect.objectContaining({ name: 'RecordBatchError', reason, errorCode });

describe('validateProducedRecords', () => {
  it('returns the single batch of a valid produce', () => {
    const records = batch({ producerId: 5, producerEpoch: 0, baseSequence: 0 });
    const result = validateProducedRecords(records, 9);
    expect(result.bytes).toEqual(records);
    expect(result.header.producerId).toBe(5);
  });

  it('refuses empty records with INVALID_RECORD (87)', () => {
    expect(() => validateProducedRecords(Buffer.alloc(0), 9)).toThrow(refusal('no-batch', 87));
  });

  it('refuses more than one batch with INVALID_RECORD (87)', () => {
    expect(() => validateProducedRecords(Buffer.concat([batch(), batch()]), 9)).toThrow(
      refusal('multiple-batches', 87),
    );
  });

  it('refuses zstd before Produce v7 with UNSUPPORTED_COMPRESSION_TYPE (76)', () => {
    const zstd = batch();
    zstd.writeInt16BE(4, 21);
    writeBatchCrc(zstd);
    expect(() => validateProducedRecords(zstd, 6)).toThrow(refusal('unsupported-compression', 76));
    expect(validateProducedRecords(zstd, 7).header.compression).toBe('zstd');
  });

  it('refuses control batches with INVALID_RECORD (87)', () => {
    expect(() => validateProducedRecords(batch({ control: true }), 9)).toThrow(
      refusal('control-batch', 87),
    );
  });

  it('refuses a producer id without a sequence with INVALID_RECORD (87)', () => {
    expect(() => validateProducedRecords(batch({ producerId: 1, baseSequence: -1 }), 9)).toThrow(
      refusal('invalid-sequence', 87),
    );
  });

  it('applies maxBatchBytes as MESSAGE_TOO_LARGE (10)', () => {
    const records = batch();
    expect(() => validateProducedRecords(records, 9, { maxBatchBytes: 10 })).toThrow(
      refusal('batch-too-large', 10),
    );
  });
});
