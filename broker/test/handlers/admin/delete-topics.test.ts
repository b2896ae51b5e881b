import {
  deleteTopicsHandler,
  type DeleteTopicsHandler,
} from '../../../src/handlers/delete-topics.js';
import { partitionPrefix } from '../../../src/storage/segment-keys.js';
import { ErrorCode } from '../../../src/protocol/error-codes.js';
import type {
  DeleteTopicsRequest,
  DeleteTopicsResponse,
} from '../../../src/protocol/generated/index.js';
import {
  appendRecords,
  callAtVersion,
  createTestBrokerContext,
  type TestBrokerContext,
} from '../../support/test-broker-context.js';

const ZERO_UUID = '00000000-0000-0000-0000-000000000000';
const UNKNOWN_ID = '0f0e0d0c-0b0a-0908-0706-050403020100';

let broker: TestBrokerContext;
let handler: DeleteTopicsHandler;
beforeEach(async () => {
  broker = await createTestBrokerContext({
    // These tests are about a partition's own objects; packed objects are shared with other
    // partitions and left to the sweeper (broker/test/log/segment-packing.test.ts).
    env: { KAFSCALE_PACK_SEGMENTS: 'false' },
  });
  handler = deleteTopicsHandler(broker);
});
afterEach(() => broker.close());

function call(
  version: number,
  request: Partial<DeleteTopicsRequest>,
): Promise<DeleteTopicsResponse> {
  return callAtVersion(handler, version, {
    timeoutMs: 30000,
    topicNames: [],
    topics: [],
    ...request,
  });
}

async function keysUnder(topic: string, partition: number): Promise<string[]> {
  const listed = await broker.objects.list(
    partitionPrefix(broker.config.namespace, topic, partition),
  );
  return listed.map((o) => o.key);
}

it('serves every version of the codec', () => {
  expect([handler.apiKey, handler.minVersion, handler.maxVersion]).toEqual([20, 0, 6]);
});

it('deletes by name at v0 and removes the metadata', async () => {
  await broker.metadata.createTopic('gone', 2, {});
  const response = await call(0, { topicNames: ['gone'] });
  expect(response.responses).toMatchObject([{ name: 'gone', errorCode: ErrorCode.NONE }]);
  expect(broker.metadata.topic('gone')).toBeUndefined();
  expect(await broker.metadata.readPartition('gone', 0)).toBeUndefined();
});

it('answers UNKNOWN_TOPIC_OR_PARTITION for an unknown name, with a message from v5', async () => {
  const v4 = await call(4, { topicNames: ['nope'] });
  expect(v4.responses).toMatchObject([
    { name: 'nope', errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION },
  ]);
  const v5 = await call(5, { topicNames: ['nope'] });
  expect(v5.responses[0].errorMessage).toContain('nope');
});

it('deletes by topic id at v6 and reports name and id', async () => {
  const topic = await broker.metadata.createTopic('by-id', 1, {});
  const response = await call(6, { topics: [{ name: null, topicId: topic!.id }] });
  expect(response.responses).toEqual([
    { name: 'by-id', topicId: topic!.id, errorCode: ErrorCode.NONE, errorMessage: null },
  ]);
  expect(broker.metadata.topic('by-id')).toBeUndefined();
});

it('deletes by name at v6 and reports the topic id', async () => {
  const topic = await broker.metadata.createTopic('by-name', 1, {});
  const response = await call(6, { topics: [{ name: 'by-name', topicId: ZERO_UUID }] });
  expect(response.responses[0]).toMatchObject({
    name: 'by-name',
    topicId: topic!.id,
    errorCode: 0,
  });
});

it('answers UNKNOWN_TOPIC_ID for an unknown id at v6', async () => {
  const response = await call(6, { topics: [{ name: null, topicId: UNKNOWN_ID }] });
  expect(response.responses).toEqual([
    {
      name: null,
      topicId: UNKNOWN_ID,
      errorCode: ErrorCode.UNKNOWN_TOPIC_ID,
      errorMessage: expect.stringContaining(UNKNOWN_ID),
    },
  ]);
});

it('refuses an entry naming both a topic and an id, and duplicate entries', async () => {
  const topic = await broker.metadata.createTopic('both', 1, {});
  await broker.metadata.createTopic('twice', 1, {});
  const response = await call(6, {
    topics: [
      { name: 'both', topicId: topic!.id },
      { name: 'twice', topicId: ZERO_UUID },
      { name: 'twice', topicId: ZERO_UUID },
      { name: null, topicId: UNKNOWN_ID },
      { name: null, topicId: UNKNOWN_ID },
    ],
  });
  expect(response.responses.map((r) => r.errorCode)).toEqual([
    ErrorCode.INVALID_REQUEST,
    ErrorCode.INVALID_REQUEST,
    ErrorCode.INVALID_REQUEST,
    ErrorCode.INVALID_REQUEST,
    ErrorCode.INVALID_REQUEST,
  ]);
  expect(broker.metadata.topic('both')).toBeDefined();
  expect(broker.metadata.topic('twice')).toBeDefined();
});

it('deletes the objects the topic manifests referenced, and nothing else under its prefix', async () => {
  await broker.metadata.createTopic('data', 2, {});
  await appendRecords(broker, 'data', 0, 5);
  await appendRecords(broker, 'data', 0, 5);
  await appendRecords(broker, 'data', 1, 3);
  const referenced = [
    ...(await broker.metadata.readSegments('data', 0)),
    ...(await broker.metadata.readSegments('data', 1)),
  ].flatMap((s) => [s.key, s.indexKey]);
  expect(referenced).toHaveLength(6);
  // An object under the prefix no manifest references: maybe a new incarnation's, never ours.
  const stray = `${partitionPrefix(broker.config.namespace, 'data', 0)}segment-00000000000000000000-9-abcdefabcdef.kfs`;
  await broker.objects.put(stray, Buffer.from('not ours'));

  const response = await call(4, { topicNames: ['data'] });
  expect(response.responses[0].errorCode).toBe(ErrorCode.NONE);
  await handler.idle();

  expect(await keysUnder('data', 0)).toEqual([stray]);
  expect(await keysUnder('data', 1)).toEqual([]);
});

it('leaves a recreated topic of the same name intact', async () => {
  await broker.metadata.createTopic('reborn', 1, {});
  await appendRecords(broker, 'reborn', 0, 4);
  const oldKeys = (await broker.metadata.readSegments('reborn', 0)).map((s) => s.key);

  await call(6, { topics: [{ name: 'reborn', topicId: ZERO_UUID }] });
  // The new incarnation writes before the old one's objects are gone.
  await broker.metadata.createTopic('reborn', 1, {});
  await appendRecords(broker, 'reborn', 0, 2);
  await handler.idle();

  const newKeys = (await broker.metadata.readSegments('reborn', 0)).flatMap((s) => [
    s.key,
    s.indexKey,
  ]);
  const remaining = await keysUnder('reborn', 0);
  expect(remaining.sort()).toEqual(newKeys.sort());
  expect(remaining).not.toContain(oldKeys[0]);
  const log = await broker.logs.get('reborn', 0);
  const read = await log.read(0, 1 << 20);
  expect(read.batches).toHaveLength(1);
  expect(read.highWatermark).toBe(2);
});

it('answers success even when the object store cannot delete, and logs it', async () => {
  await broker.metadata.createTopic('sticky', 1, {});
  await appendRecords(broker, 'sticky', 0, 1);
  const objects = broker.objects;
  const realDelete = objects.delete;
  let attempts = 0;
  objects.delete = async () => {
    attempts++;
    throw new Error('S3 is down');
  };
  const response = await call(6, { topics: [{ name: 'sticky', topicId: ZERO_UUID }] });
  expect(response.responses[0].errorCode).toBe(ErrorCode.NONE);
  await handler.idle();
  objects.delete = realDelete;
  expect(attempts).toBe(1);
  expect(broker.logged).toContainEqual(
    expect.objectContaining({
      level: 'warn',
      message: expect.stringContaining('deleting objects of a deleted topic failed'),
      topic: 'sticky',
      err: 'Error: S3 is down',
    }),
  );
  expect(broker.metadata.topic('sticky')).toBeUndefined();
  expect(await keysUnder('sticky', 0)).toHaveLength(2);
});

it('answers REQUEST_TIMED_OUT and keeps the objects when the metadata store does not answer', async () => {
  await broker.metadata.createTopic('stuck', 1, {});
  await appendRecords(broker, 'stuck', 0, 1);
  await broker.store.close();
  const response = await call(6, { topics: [{ name: 'stuck', topicId: ZERO_UUID }] });
  expect(response.responses[0].errorCode).toBe(ErrorCode.REQUEST_TIMED_OUT);
  await handler.idle();
  expect(await keysUnder('stuck', 0)).toHaveLength(2);
});
