// Reads the records of a v2 batch, for tests, tools and exact timestamp lookups. The produce and
// fetch paths never look inside a batch.
import { gunzipSync } from 'node:zlib';
import { BATCH_HEADER_SIZE, LOG_OVERHEAD, parseBatchHeader } from './record-batch.js';
import { RecordBatchError } from './record-batch-error.js';
import { Cursor, readVarint, readVarlong } from './varint.js';

export interface DecodedHeader {
  key: string;
  value: Buffer | null;
}

export interface DecodedRecord {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: DecodedHeader[];
}

function readBytes(cursor: Cursor): Buffer | null {
  const length = readVarint(cursor);
  if (length === -1) return null;
  if (length < 0 || length > cursor.end - cursor.pos) {
    throw new RecordBatchError('invalid-record', `field length ${length} is out of bounds`);
  }
  const bytes = cursor.buf.subarray(cursor.pos, cursor.pos + length);
  cursor.pos += length;
  return bytes;
}

function readRecord(buf: Buffer, cursor: Cursor, baseOffset: number, baseTimestamp: number) {
  const length = readVarint(cursor);
  if (length < 1 || length > cursor.end - cursor.pos) {
    throw new RecordBatchError('invalid-record', `record length ${length} is out of bounds`);
  }
  const record: Cursor = { buf, pos: cursor.pos, end: cursor.pos + length };
  cursor.pos = record.end;
  record.pos++; // attributes: unused in v2 records
  const timestamp = baseTimestamp + readVarlong(record);
  const offset = baseOffset + readVarint(record);
  const key = readBytes(record);
  const value = readBytes(record);
  const headerCount = readVarint(record);
  if (headerCount < 0) {
    throw new RecordBatchError('invalid-record', `negative header count ${headerCount}`);
  }
  const headers: DecodedHeader[] = [];
  for (let i = 0; i < headerCount; i++) {
    const headerKey = readBytes(record);
    if (headerKey === null) {
      throw new RecordBatchError('invalid-record', 'record header key is null');
    }
    headers.push({ key: headerKey.toString('utf8'), value: readBytes(record) });
  }
  if (record.pos !== record.end) {
    throw new RecordBatchError('invalid-record', 'record length does not match its contents');
  }
  return { offset, timestamp, key, value, headers };
}

/**
 * Decodes the records of one uncompressed batch that starts at the beginning of `batch`. Keys,
 * values and header values are views into `batch`.
 */
export function decodeRecords(batch: Buffer): DecodedRecord[] {
  const header = parseBatchHeader(batch);
  if (header.compression !== 'none') {
    throw new RecordBatchError(
      'unsupported-compression',
      `cannot decode ${header.compression}-compressed records`,
    );
  }
  return readRecords(batch, BATCH_HEADER_SIZE, LOG_OVERHEAD + header.batchLength, header);
}

/**
 * The records of a batch that is uncompressed or gzip-compressed (zlib is built into Node);
 * undefined for codecs that would need a native library (snappy, lz4, zstd).
 */
export function decodeRecordsIfReadable(batch: Buffer): DecodedRecord[] | undefined {
  const header = parseBatchHeader(batch);
  const end = LOG_OVERHEAD + header.batchLength;
  if (header.compression === 'none') return readRecords(batch, BATCH_HEADER_SIZE, end, header);
  if (header.compression !== 'gzip') return undefined;
  const inflated = gunzipSync(batch.subarray(BATCH_HEADER_SIZE, end));
  return readRecords(inflated, 0, inflated.length, header);
}

function readRecords(
  buf: Buffer,
  start: number,
  end: number,
  header: { recordCount: number; baseOffset: number; baseTimestamp: number },
): DecodedRecord[] {
  const cursor: Cursor = { buf, pos: start, end };
  const records: DecodedRecord[] = [];
  for (let i = 0; i < header.recordCount; i++) {
    records.push(readRecord(buf, cursor, header.baseOffset, header.baseTimestamp));
  }
  if (cursor.pos !== cursor.end) {
    throw new RecordBatchError('invalid-record', 'bytes left after the last record of the batch');
  }
  return records;
}
