// Produce opens the logs of a request's partitions at the same time, and apart from the
// connection's earlier requests, while batches are still appended in request order.
import { produceHandler } from '../../src/handlers/produce.js';
import type { ProduceRequest, ProduceResponse } from '../../src/protocol/generated/index.js';
import { buildRecordBatch } from '../../src/protocol/records/record-batch-builder.js';
import {
  createTestBrokerContext,
  requestContext,
  type TestBrokerContext,
} from '../support/test-broker-context.js';

const PARTITIONS = 20;

let broker: TestBrokerContext;
/** Partitions whose leadership acquisition is under way, held until released. */
let held: { partition: number; release: () => void }[];
let holding: boolean;
let onHeld: () => void;

beforeEach(async () => {
  broker = await createTestBrokerContext();
  await broker.metadata.createTopic('t', PARTITIONS, {});
  held = [];
  holding = true;
  onHeld = () => {};
  const acquire = broker.metadata.acquire.bind(broker.metadata);
  broker.metadata.acquire = async (key, ...rest) => {
    if (holding) {
      await new Promise<void>((release) => {
        held.push({ partition: Number(key.split('/').pop()), release });
        onHeld();
      });
    }
    return acquire(key, ...rest);
  };
});

afterEach(async () => {
  holding = false;
  for (const h of held.splice(0)) h.release();
  await broker.close();
});

function request(partitions: number[], tag: string): ProduceRequest {
  return {
    transactionalId: null,
    acks: -1,
    timeoutMs: 30_000,
    topicData: [
      {
        name: 't',
        partitionData: partitions.map((index) => ({
          index,
          records: buildRecordBatch([{ key: null, value: Buffer.from(`${tag}-${index}`) }]),
        })),
      },
    ],
  };
}

/** Resolves once `count` acquisitions are held at the same time. */
function heldAtOnce(count: number): Promise<void> {
  return new Promise((resolve) => {
    onHeld = () => held.length >= count && resolve();
    onHeld();
  });
}

function offsets(response: ProduceResponse | null): Record<number, number> {
  const out: Record<number, number> = {};
  for (const p of response!.responses[0].partitionResponses) {
    expect(p.errorCode).toBe(0);
    out[p.index] = Number(p.baseOffset);
  }
  return out;
}

test("a request's partitions are opened at the same time, not one after another", async () => {
  const handler = produceHandler(broker);
  const all = Array.from({ length: PARTITIONS }, (_, i) => i);
  const answer = handler.handle(request(all, 'a'), requestContext(0, 9));
  // One after another, the second acquisition would start only after the first was released.
  await heldAtOnce(PARTITIONS);
  expect(held.map((h) => h.partition).sort((a, b) => a - b)).toEqual(all);
  holding = false;
  for (const h of held.splice(0)) h.release();
  expect(offsets(await answer)).toEqual(Object.fromEntries(all.map((p) => [p, 0])));
});

test("a connection's requests open their partitions at once and append in request order", async () => {
  const handler = produceHandler(broker);
  const ctx = requestContext(0, 9);
  // Partition 1 is open; the first request also names partition 0, which is not.
  holding = false;
  await broker.logs.get('t', 1);
  holding = true;
  const first = handler.handle(request([0, 1], 'first'), ctx);
  const second = handler.handle(request([2, 1], 'second'), ctx);
  // Both requests' openings are under way together, before either request appended anything.
  await heldAtOnce(2);
  expect(held.map((h) => h.partition).sort()).toEqual([0, 2]);
  // The second request's partition opens first; it still waits for the first request.
  held.find((h) => h.partition === 2)!.release();
  await new Promise((r) => setTimeout(r, 20));
  holding = false;
  for (const h of held.splice(0)) h.release();
  expect(offsets(await first)).toEqual({ 0: 0, 1: 0 });
  expect(offsets(await second)).toEqual({ 2: 0, 1: 1 });
  const read = await (await broker.logs.get('t', 1)).read(0, 1 << 20);
  expect(read.batches).toHaveLength(2);
  expect(read.batches[0].toString()).toContain('first-1');
  expect(read.batches[1].toString()).toContain('second-1');
});
