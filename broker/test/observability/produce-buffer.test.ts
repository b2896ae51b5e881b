// The produce buffer bounds memory while object storage stalls: appends beyond the budget are
// refused with a retriable error (never dropped), what was accepted is committed once storage
// answers, and the budget is given back on success, failure and hand-off alike.
import {
  createTestBrokerContext,
  callAtVersion,
  type TestBrokerContext,
} from '../support/test-broker-context.js';
import { produceHandler } from '../../src/handlers/produce.js';
import { buildRecordBatch } from '../../src/protocol/records/record-batch-builder.js';
import { validateProducedRecords } from '../../src/protocol/records/produce-rules.js';
import { KafkaError } from '../../src/log/kafka-error.js';
import type { ProduceResponse } from '../../src/protocol/generated/index.js';

const KAFKA_STORAGE_ERROR = 56;
const NOT_LEADER_OR_FOLLOWER = 6;
const MiB = 1024 * 1024;

let broker: TestBrokerContext;
/** Uploads wait here while the store "stalls". */
const stalled: (() => void)[] = [];
let stall = false;
let failUploads = false;

beforeEach(async () => {
  broker = await createTestBrokerContext({ config: { produceBufferBytes: MiB } });
  const put = broker.objects.put.bind(broker.objects);
  broker.objects.put = async (key, body) => {
    if (stall) await new Promise<void>((resolve) => stalled.push(resolve));
    if (failUploads) throw new Error('injected upload failure');
    return put(key, body);
  };
  await broker.metadata.createTopic('t', 2, { 'max.message.bytes': String(4 * MiB) });
});

afterEach(async () => {
  stall = false;
  for (const release of stalled.splice(0)) release();
  await broker.close();
});

function batchOf(bytes: number, tag: string) {
  const value = Buffer.alloc(bytes, tag);
  return validateProducedRecords(buildRecordBatch([{ key: null, value }]), 9, {
    maxBatchBytes: 8 * MiB,
  });
}

test('appends beyond the budget are refused with KAFKA_STORAGE_ERROR; accepted ones commit', async () => {
  const buffer = broker.logs.buffer!;
  const log = await broker.logs.get('t', 0);
  stall = true;
  const accepted: Promise<void>[] = [];
  let refusal: unknown;
  for (let i = 0; i < 10 && refusal === undefined; i++) {
    try {
      accepted.push(log.append(batchOf(300 * 1024, String(i))).durable);
    } catch (err) {
      refusal = err;
    }
  }
  expect(accepted).toHaveLength(3); // 3 x 300 KiB fit in 1 MiB, the 4th does not
  expect(refusal).toBeInstanceOf(KafkaError);
  expect((refusal as KafkaError).code).toBe(KAFKA_STORAGE_ERROR);
  expect(buffer.usedBytes).toBeGreaterThan(900 * 1024);
  expect(buffer.usedBytes).toBeLessThanOrEqual(MiB);
  expect(buffer.refused).toBe(1);

  stall = false;
  for (const release of stalled.splice(0)) release();
  await Promise.all(accepted);
  expect(buffer.usedBytes).toBe(0);
  expect(log.highWatermark).toBe(3);
  const read = await log.read(0, 8 * MiB);
  expect(read.batches).toHaveLength(3);

  await log.append(batchOf(300 * 1024, 'after')).durable;
  expect(log.highWatermark).toBe(4);
});

test('a failed flush and a hand-off give the budget back', async () => {
  const buffer = broker.logs.buffer!;
  const log = await broker.logs.get('t', 0);
  failUploads = true;
  const failed = log.append(batchOf(200 * 1024, 'x')).durable;
  await expect(failed).rejects.toMatchObject({ code: KAFKA_STORAGE_ERROR });
  expect(buffer.usedBytes).toBe(0);
  failUploads = false;

  // Queued in a window that never flushes before the log is closed.
  const other = await broker.logs.get('t', 1);
  stall = true;
  const first = other.append(batchOf(100 * 1024, 'a')).durable;
  await new Promise((r) => setTimeout(r, 20)); // the first window is now uploading
  const queued = other.append(batchOf(100 * 1024, 'b')).durable;
  queued.catch(() => undefined);
  expect(buffer.usedBytes).toBeGreaterThanOrEqual(200 * 1024);
  other.close();
  await expect(queued).rejects.toMatchObject({ code: NOT_LEADER_OR_FOLLOWER });
  stall = false;
  for (const release of stalled.splice(0)) release();
  await first.catch(() => undefined);
  expect(buffer.usedBytes).toBe(0);
});

test('the Produce handler refuses per partition; v3 gets NOT_LEADER_OR_FOLLOWER instead', async () => {
  const handler = produceHandler(broker);
  await broker.logs.get('t', 0);
  await broker.logs.get('t', 1);
  stall = true;
  // Fill the budget through partition 0 (acks=0: nobody waits for the stalled upload).
  const fill = {
    transactionalId: null,
    acks: 0,
    timeoutMs: 1000,
    topicData: [
      {
        name: 't',
        partitionData: [
          { index: 0, records: buildRecordBatch([{ key: null, value: Buffer.alloc(MiB) }]) },
        ],
      },
    ],
  };
  await handler.handle(fill as never, { connection: {}, apiVersion: 9 } as never);
  // Larger than the whole budget: admitted only because the buffer was empty.
  expect(broker.logs.buffer!.usedBytes).toBeGreaterThan(MiB);

  const request = (index: number) => ({
    transactionalId: null,
    acks: -1,
    timeoutMs: 1000,
    topicData: [
      {
        name: 't',
        partitionData: [
          { index, records: buildRecordBatch([{ key: null, value: Buffer.from('v') }]) },
        ],
      },
    ],
  });
  const v9 = await callAtVersion<ProduceResponse>(handler, 9, request(1));
  expect(v9.responses[0].partitionResponses[0]).toMatchObject({
    errorCode: KAFKA_STORAGE_ERROR,
    baseOffset: -1,
  });
  expect(v9.responses[0].partitionResponses[0].errorMessage).toMatch(/produce buffer full/);
  const v3 = await callAtVersion<ProduceResponse>(handler, 3, request(1));
  expect(v3.responses[0].partitionResponses[0].errorCode).toBe(NOT_LEADER_OR_FOLLOWER);

  stall = false;
  for (const release of stalled.splice(0)) release();
  await broker.logs.peek('t', 0)!.flush();
  const ok = await callAtVersion<ProduceResponse>(handler, 9, request(1));
  expect(ok.responses[0].partitionResponses[0]).toMatchObject({ errorCode: 0, baseOffset: 0 });
});
