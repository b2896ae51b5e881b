// Every way a producer's `records` blob can be refused, with the error code a real Kafka broker
// answers on Produce for the same defect, so clients react (retry or give up) exactly as they
// would against Kafka. Sources, Apache Kafka trunk:
// - ByteBufferLogInputStream.nextBatchSize: size below the v0 overhead or unknown magic ->
//   CorruptRecordException (CORRUPT_MESSAGE).
// - ProduceRequest.validateRecords (v3+): no complete batch, magic other than 2, or more than one
//   batch -> InvalidRecordException (INVALID_RECORD); zstd before v7 ->
//   UnsupportedCompressionTypeException (UNSUPPORTED_COMPRESSION_TYPE).
// - UnifiedLog.analyzeAndValidateRecords: batch above max.message.bytes -> RecordTooLargeException
//   (MESSAGE_TOO_LARGE); CRC mismatch or size below the v2 overhead (DefaultRecordBatch.isValid) ->
//   CorruptRecordException (CORRUPT_MESSAGE).
// - LogValidator.validateBatch (origin CLIENT): bad offset range, count <= 0, count inconsistent
//   with the offset range, control batch, producer id without sequence -> InvalidRecordException.

import { ErrorCode } from '../error-codes.js';

// Missing from the shared table in ../error-codes.ts; Errors.UNSUPPORTED_COMPRESSION_TYPE.
const UNSUPPORTED_COMPRESSION_TYPE = 76;

export type RecordBatchErrorReason =
  | 'truncated'
  | 'invalid-magic'
  | 'old-message-format'
  | 'invalid-batch-length'
  | 'batch-too-large'
  | 'crc-mismatch'
  | 'unknown-compression'
  | 'invalid-offset-range'
  | 'invalid-record-count'
  | 'no-batch'
  | 'multiple-batches'
  | 'unsupported-compression'
  | 'control-batch'
  | 'invalid-sequence'
  | 'invalid-record';

const codeByReason: Record<RecordBatchErrorReason, number> = {
  // Kafka silently drops a partial trailing batch while iterating, so an incomplete lone batch
  // surfaces as "must have at least one record batch": INVALID_RECORD.
  truncated: ErrorCode.INVALID_RECORD,
  'invalid-magic': ErrorCode.CORRUPT_MESSAGE,
  'old-message-format': ErrorCode.INVALID_RECORD,
  'invalid-batch-length': ErrorCode.CORRUPT_MESSAGE,
  'batch-too-large': ErrorCode.MESSAGE_TOO_LARGE,
  'crc-mismatch': ErrorCode.CORRUPT_MESSAGE,
  // Kafka fails inside CompressionType.forId with a non-API exception; a codec id that does not
  // exist is a permanent client bug, so answer the non-retriable INVALID_RECORD instead.
  'unknown-compression': ErrorCode.INVALID_RECORD,
  'invalid-offset-range': ErrorCode.INVALID_RECORD,
  'invalid-record-count': ErrorCode.INVALID_RECORD,
  'no-batch': ErrorCode.INVALID_RECORD,
  'multiple-batches': ErrorCode.INVALID_RECORD,
  'unsupported-compression': UNSUPPORTED_COMPRESSION_TYPE,
  'control-batch': ErrorCode.INVALID_RECORD,
  'invalid-sequence': ErrorCode.INVALID_RECORD,
  'invalid-record': ErrorCode.INVALID_RECORD,
};

export class RecordBatchError extends Error {
  /** The Kafka protocol error code to put in the partition's Produce response. */
  readonly errorCode: number;

  constructor(
    readonly reason: RecordBatchErrorReason,
    message: string,
    /** Byte position in the inspected buffer where the offending batch starts. */
    readonly position = 0,
  ) {
    super(message);
    this.name = 'RecordBatchError';
    this.errorCode = codeByReason[reason];
  }
}
