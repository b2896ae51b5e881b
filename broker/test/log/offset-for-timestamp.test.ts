import { gzipSync } from 'node:zlib';
import {
  buildRecordBatch,
  writeBatchCrc,
} from '../../src/protocol/records/record-batch-builder.js';
import { validateProducedRecords } from '../../src/protocol/records/produce-rules.js';
import { BATCH_HEADER_SIZE } from '../../src/protocol/records/record-batch.js';
import { createTestBrokerContext, type TestBrokerContext } from '../support/test-broker-context.js';

let broker: TestBrokerContext;
beforeEach(async () => {
  broker = await createTestBrokerContext();
  await broker.metadata.createTopic('times', 1, {});
});
afterEach(async () => {
  await broker.close();
});

const BASE = 1_700_000_000_000;
const records = Array.from({ length: 10 }, (_, i) => ({
  key: null,
  value: Buffer.from(`r${i}`),
  timestamp: BASE + i * 1000,
}));

/** The same records as a gzip batch, built as a producer would. */
function gzipBatch(): Buffer {
  const plain = buildRecordBatch(records);
  const body = gzipSync(plain.subarray(BATCH_HEADER_SIZE));
  const batch = Buffer.concat([plain.subarray(0, BATCH_HEADER_SIZE), body]);
  batch.writeInt32BE(batch.length - 12, 8);
  batch.writeInt16BE(plain.readInt16BE(21) | 1, 21);
  writeBatchCrc(batch);
  return batch;
}

test.each([
  ['uncompressed', () => buildRecordBatch(records)],
  ['gzip', gzipBatch],
])(
  'a timestamp lookup finds the first record at or after the target (%s)',
  async (_name, build) => {
    const log = await broker.logs.get('times', 0);
    await log.append(validateProducedRecords(build(), 9)).durable;
    expect(await log.offsetForTimestamp(BASE + 3500)).toEqual({
      offset: 4,
      timestamp: BASE + 4000,
    });
    expect(await log.offsetForTimestamp(BASE + 3000)).toEqual({
      offset: 3,
      timestamp: BASE + 3000,
    });
    expect(await log.offsetForTimestamp(BASE - 1)).toEqual({ offset: 0, timestamp: BASE });
    expect(await log.offsetForTimestamp(BASE + 99_999)).toEqual({ offset: -1, timestamp: -1 });
  },
);
