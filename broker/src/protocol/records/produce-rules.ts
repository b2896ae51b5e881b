// What a Kafka broker checks on the `records` of one partition in a Produce request before it
// appends them, beyond the batch's own structure: ProduceRequest.validateRecords and the
// client-origin rules of LogValidator.validateBatch (see record-batch-error.ts for the codes).
import { ParseOptions, RecordBatch, splitBatches } from './record-batch.js';
import { RecordBatchError } from './record-batch-error.js';

const FIRST_VERSION_WITH_ZSTD = 7;

/**
 * Validates the records a client produced to one partition (Produce v3 and later) and returns
 * its single batch.
 */
export function validateProducedRecords(
  records: Buffer,
  produceVersion: number,
  options: ParseOptions = {},
): RecordBatch {
  const batches = splitBatches(records, options);
  if (batches.length === 0) {
    throw new RecordBatchError('no-batch', 'produce records must hold one record batch');
  }
  if (batches.length > 1) {
    throw new RecordBatchError(
      'multiple-batches',
      `produce records hold ${batches.length} batches, exactly one is allowed`,
      batches[1].bytes.byteOffset - records.byteOffset,
    );
  }
  const batch = batches[0];
  const { header } = batch;
  if (header.compression === 'zstd' && produceVersion < FIRST_VERSION_WITH_ZSTD) {
    throw new RecordBatchError(
      'unsupported-compression',
      `produce v${produceVersion} cannot carry zstd batches (v${FIRST_VERSION_WITH_ZSTD}+ needed)`,
    );
  }
  if (header.isControl) {
    throw new RecordBatchError('control-batch', 'clients may not write control batches');
  }
  if (header.producerId >= 0 && header.baseSequence < 0) {
    throw new RecordBatchError(
      'invalid-sequence',
      `invalid sequence ${header.baseSequence} for producer id ${header.producerId}`,
    );
  }
  return batch;
}
