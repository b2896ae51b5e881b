import { createTopicsHandler } from '../../../src/handlers/create-topics.js';
import { ErrorCode } from '../../../src/protocol/error-codes.js';
import type {
  CreateTopicsRequestCreatableTopic,
  CreateTopicsResponse,
} from '../../../src/protocol/generated/index.js';
import {
  callAtVersion,
  createTestBrokerContext,
  type TestBrokerContext,
} from '../../support/test-broker-context.js';

const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

let broker: TestBrokerContext;
beforeEach(async () => {
  broker = await createTestBrokerContext({ env: { KAFSCALE_AUTO_CREATE_PARTITIONS: '3' } });
});
afterEach(() => broker.close());

function topic(
  name: string,
  extra: Partial<CreateTopicsRequestCreatableTopic> = {},
): CreateTopicsRequestCreatableTopic {
  return { name, numPartitions: 2, replicationFactor: 1, assignments: [], configs: [], ...extra };
}

async function create(
  version: number,
  topics: CreateTopicsRequestCreatableTopic[],
  validateOnly = false,
): Promise<CreateTopicsResponse> {
  return callAtVersion(createTopicsHandler(broker), version, {
    topics,
    timeoutMs: 30000,
    validateOnly,
  });
}

it('serves every version of the codec', () => {
  const handler = createTopicsHandler(broker);
  expect([handler.apiKey, handler.minVersion, handler.maxVersion]).toEqual([19, 0, 7]);
});

it('creates topics at v0 with the requested partitions', async () => {
  const response = await create(0, [topic('orders', { numPartitions: 4 })]);
  expect(response.topics).toMatchObject([{ name: 'orders', errorCode: ErrorCode.NONE }]);
  const created = broker.metadata.topic('orders');
  expect(created?.partitions).toBe(4);
  expect(await broker.metadata.readPartition('orders', 3)).toBeDefined();
});

it('reports id, partitions, replication factor and effective configs at v7', async () => {
  const response = await create(7, [
    topic('events', {
      numPartitions: -1,
      replicationFactor: 3,
      configs: [{ name: 'retention.ms', value: '1000' }],
    }),
  ]);
  const [result] = response.topics;
  const created = broker.metadata.topic('events');
  expect(created).toMatchObject({ partitions: 3, configs: { 'retention.ms': '1000' } });
  expect(result).toMatchObject({
    name: 'events',
    topicId: created?.id,
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    numPartitions: 3,
    replicationFactor: 1,
  });
  const configs = Object.fromEntries((result.configs ?? []).map((c) => [c.name, c]));
  expect(configs['retention.ms']).toEqual({
    name: 'retention.ms',
    value: '1000',
    readOnly: false,
    configSource: 1,
    isSensitive: false,
  });
  expect(configs['retention.bytes']).toMatchObject({ value: '-1', configSource: 5 });
  expect(configs['segment.bytes']).toMatchObject({ value: String(broker.config.segmentBytes) });
});

it('fills the v5 response (first flexible version) without a topic id', async () => {
  const response = await create(5, [topic('flex', { numPartitions: 1 })]);
  expect(response.topics[0]).toMatchObject({
    name: 'flex',
    topicId: ZERO_UUID,
    errorCode: ErrorCode.NONE,
    numPartitions: 1,
    replicationFactor: 1,
  });
  expect(response.topics[0].configs?.length).toBeGreaterThan(0);
});

it('validates without creating when validateOnly is set', async () => {
  const response = await create(7, [topic('dry-run', { numPartitions: 6 })], true);
  expect(response.topics[0]).toMatchObject({
    errorCode: ErrorCode.NONE,
    topicId: ZERO_UUID,
    numPartitions: 6,
  });
  expect(broker.metadata.topic('dry-run')).toBeUndefined();
});

it('refuses an existing topic with TOPIC_ALREADY_EXISTS and a message (v1+)', async () => {
  await create(1, [topic('dup')]);
  const old = await create(0, [topic('dup')]);
  // v0 has no errorMessage on the wire: the client sees the decoder's default.
  expect(old.topics[0]).toMatchObject({
    name: 'dup',
    errorCode: ErrorCode.TOPIC_ALREADY_EXISTS,
    errorMessage: '',
  });
  const response = await create(1, [topic('dup')]);
  expect(response.topics[0]).toMatchObject({
    name: 'dup',
    errorCode: ErrorCode.TOPIC_ALREADY_EXISTS,
    errorMessage: "Topic 'dup' already exists.",
  });
  const dry = await create(7, [topic('dup')], true);
  expect(dry.topics[0]).toMatchObject({
    errorCode: ErrorCode.TOPIC_ALREADY_EXISTS,
    numPartitions: -1,
    replicationFactor: -1,
  });
});

it.each([
  ['', "it can't be empty"],
  ['.', '"." or ".."'],
  ['..', '"." or ".."'],
  ['a'.repeat(250), 'longer than 249'],
  ['bad/name', 'character other than'],
  ['spa ce', 'character other than'],
])('refuses the illegal topic name %j', async (name, message) => {
  const response = await create(7, [topic(name)]);
  expect(response.topics[0].errorCode).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION);
  expect(response.topics[0].errorMessage).toContain(message);
  expect(broker.metadata.topics()).toEqual([]);
});

it('accepts the longest legal name', async () => {
  const name = 'a.b_c-D9'.repeat(31) + 'x';
  expect(name).toHaveLength(249);
  const response = await create(7, [topic(name)]);
  expect(response.topics[0].errorCode).toBe(ErrorCode.NONE);
});

it.each([0, -2])('refuses %i partitions with INVALID_PARTITIONS', async (numPartitions) => {
  const response = await create(7, [topic('p', { numPartitions })]);
  expect(response.topics[0]).toMatchObject({
    errorCode: ErrorCode.INVALID_PARTITIONS,
    errorMessage: 'Number of partitions must be larger than 0, or -1 to use the default value.',
  });
});

it('refuses a partition count no metadata transaction could hold', async () => {
  const response = await create(7, [topic('huge', { numPartitions: 0x7fffffff })]);
  expect(response.topics[0].errorCode).toBe(ErrorCode.INVALID_PARTITIONS);
  expect(broker.metadata.topic('huge')).toBeUndefined();
});

it.each([0, -2])('refuses replication factor %i', async (replicationFactor) => {
  const response = await create(7, [topic('r', { replicationFactor })]);
  expect(response.topics[0].errorCode).toBe(ErrorCode.INVALID_REPLICATION_FACTOR);
});

it('accepts -1 and any positive replication factor, reporting 1', async () => {
  const response = await create(7, [
    topic('rf-default', { replicationFactor: -1 }),
    topic('rf-five', { replicationFactor: 5 }),
  ]);
  expect(response.topics.map((t) => [t.errorCode, t.replicationFactor])).toEqual([
    [ErrorCode.NONE, 1],
    [ErrorCode.NONE, 1],
  ]);
});

it('refuses manual replica assignments with INVALID_REQUEST', async () => {
  const response = await create(7, [
    topic('manual', {
      numPartitions: -1,
      replicationFactor: -1,
      assignments: [{ partitionIndex: 0, brokerIds: [0] }],
    }),
  ]);
  expect(response.topics[0].errorCode).toBe(ErrorCode.INVALID_REQUEST);
  expect(response.topics[0].errorMessage).toMatch(/assignments/);
  expect(broker.metadata.topic('manual')).toBeUndefined();
});

it.each([
  [{ name: 'min.insync.replicas', value: '2' }, 'unknown or unsupported topic config'],
  [{ name: 'retention.ms', value: 'soon' }, 'invalid value soon for retention.ms'],
  [{ name: 'cleanup.policy', value: 'compact' }, 'invalid value compact'],
  [{ name: 'retention.ms', value: null }, 'Null value not supported'],
])('refuses config %j with INVALID_CONFIG', async (config, message) => {
  const response = await create(7, [topic('cfg', { configs: [config] })]);
  expect(response.topics[0].errorCode).toBe(ErrorCode.INVALID_CONFIG);
  expect(response.topics[0].errorMessage).toContain(message);
  expect(broker.metadata.topic('cfg')).toBeUndefined();
});

it('refuses a name given twice, creating neither, while creating the others', async () => {
  const response = await create(7, [topic('twice'), topic('once'), topic('twice')]);
  expect(response.topics.map((t) => [t.name, t.errorCode])).toEqual([
    ['once', ErrorCode.NONE],
    ['twice', ErrorCode.INVALID_REQUEST],
  ]);
  expect(broker.metadata.topic('twice')).toBeUndefined();
});

it('answers each topic on its own: one failure does not stop the rest', async () => {
  const response = await create(4, [topic('good'), topic('bad', { numPartitions: 0 })]);
  expect(response.topics.map((t) => t.errorCode)).toEqual([
    ErrorCode.NONE,
    ErrorCode.INVALID_PARTITIONS,
  ]);
  expect(broker.metadata.topic('good')).toBeDefined();
});

it('answers REQUEST_TIMED_OUT (retriable) when the metadata store does not answer', async () => {
  await broker.store.close();
  const response = await create(7, [topic('later')]);
  expect(response.topics[0]).toMatchObject({
    name: 'later',
    errorCode: ErrorCode.REQUEST_TIMED_OUT,
    errorMessage: expect.stringContaining('metadata store unavailable'),
  });
});
