import { adminHandlers } from '../../../src/handlers/admin-handlers.js';
import { alterConfigsHandler } from '../../../src/handlers/alter-configs.js';
import { createPartitionsHandler } from '../../../src/handlers/create-partitions.js';
import { createTopicsHandler } from '../../../src/handlers/create-topics.js';
import { deleteRecordsHandler } from '../../../src/handlers/delete-records.js';
import { deleteTopicsHandler } from '../../../src/handlers/delete-topics.js';
import { describeConfigsHandler } from '../../../src/handlers/describe-configs.js';
import { incrementalAlterConfigsHandler } from '../../../src/handlers/incremental-alter-configs.js';
import { ErrorCode } from '../../../src/protocol/error-codes.js';
import { API_DEFINITIONS } from '../../../src/protocol/generated/index.js';
import type {
  AlterConfigsResponse,
  CreatePartitionsResponse,
  CreateTopicsResponse,
  DeleteRecordsResponse,
  DeleteTopicsResponse,
  DescribeConfigsResponse,
  IncrementalAlterConfigsResponse,
} from '../../../src/protocol/generated/index.js';
import { HandlerRegistry } from '../../../src/server/handler-registry.js';
import {
  appendRecords,
  callAtVersion,
  createTestBrokerContext,
  type TestBrokerContext,
} from '../../support/test-broker-context.js';

const DISABLED = 'admin APIs are disabled';

it('registers every admin API at every version its codec has', async () => {
  const broker = await createTestBrokerContext();
  try {
    const registry = new HandlerRegistry();
    for (const handler of adminHandlers(broker)) registry.register(handler);
    const served = registry
      .list()
      .map((api) => [api.definition.name, api.minVersion, api.maxVersion]);
    const expected = [19, 20, 21, 23, 32, 33, 37, 44, 60].map((key) => {
      const d = API_DEFINITIONS.find((a) => a.apiKey === key)!;
      return [d.name, d.minVersion, d.maxVersion];
    });
    expect(served).toEqual(expected);
  } finally {
    await broker.close();
  }
});

describe('with admin APIs disabled', () => {
  let broker: TestBrokerContext;
  beforeEach(async () => {
    broker = await createTestBrokerContext({ env: { KAFSCALE_ALLOW_ADMIN_APIS: 'false' } });
    await broker.metadata.createTopic('kept', 1, { 'retention.ms': '1000' });
    await appendRecords(broker, 'kept', 0, 3);
  });
  afterEach(() => broker.close());

  it('refuses CreateTopics with TOPIC_AUTHORIZATION_FAILED', async () => {
    const response = await callAtVersion<CreateTopicsResponse>(createTopicsHandler(broker), 7, {
      topics: [
        { name: 'new', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] },
      ],
      timeoutMs: 1000,
      validateOnly: false,
    });
    expect(response.topics[0]).toMatchObject({
      name: 'new',
      errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
      errorMessage: expect.stringContaining(DISABLED),
    });
    expect(broker.metadata.topic('new')).toBeUndefined();
  });

  it('refuses DeleteTopics by name and by id', async () => {
    const id = broker.metadata.topic('kept')!.id;
    const v5 = await callAtVersion<DeleteTopicsResponse>(deleteTopicsHandler(broker), 5, {
      topicNames: ['kept'],
      timeoutMs: 1000,
    });
    expect(v5.responses[0]).toMatchObject({
      name: 'kept',
      errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
      errorMessage: expect.stringContaining(DISABLED),
    });
    const v6 = await callAtVersion<DeleteTopicsResponse>(deleteTopicsHandler(broker), 6, {
      topics: [{ name: null, topicId: id }],
      timeoutMs: 1000,
    });
    expect(v6.responses[0]).toMatchObject({
      topicId: id,
      errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
    });
    expect(broker.metadata.topic('kept')).toBeDefined();
  });

  it('refuses CreatePartitions', async () => {
    const response = await callAtVersion<CreatePartitionsResponse>(
      createPartitionsHandler(broker),
      3,
      {
        topics: [{ name: 'kept', count: 4, assignments: null }],
        timeoutMs: 1000,
        validateOnly: false,
      },
    );
    expect(response.results[0]).toMatchObject({
      errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
      errorMessage: expect.stringContaining(DISABLED),
    });
    expect(broker.metadata.topic('kept')?.partitions).toBe(1);
  });

  it('refuses AlterConfigs and IncrementalAlterConfigs: topics and the cluster', async () => {
    const resources = [
      { resourceType: 2, resourceName: 'kept', configs: [] },
      { resourceType: 4, resourceName: '0', configs: [] },
    ];
    const alter = await callAtVersion<AlterConfigsResponse>(alterConfigsHandler(broker), 2, {
      resources,
      validateOnly: false,
    });
    const incremental = await callAtVersion<IncrementalAlterConfigsResponse>(
      incrementalAlterConfigsHandler(broker),
      1,
      { resources, validateOnly: false },
    );
    for (const response of [alter, incremental]) {
      expect(response.responses.map((r) => r.errorCode)).toEqual([
        ErrorCode.TOPIC_AUTHORIZATION_FAILED,
        ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
      ]);
      expect(response.responses[0].errorMessage).toContain(DISABLED);
    }
    expect(broker.metadata.topic('kept')?.configs).toEqual({ 'retention.ms': '1000' });
  });

  it('refuses DeleteRecords', async () => {
    const response = await callAtVersion<DeleteRecordsResponse>(deleteRecordsHandler(broker), 2, {
      topics: [{ name: 'kept', partitions: [{ partitionIndex: 0, offset: -1 }] }],
      timeoutMs: 1000,
    });
    expect(response.topics[0].partitions[0]).toEqual({
      partitionIndex: 0,
      lowWatermark: -1,
      errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
    });
    expect((await broker.logs.get('kept', 0)).logStartOffset).toBe(0);
  });

  it('still describes configs', async () => {
    const response = await callAtVersion<DescribeConfigsResponse>(
      describeConfigsHandler(broker),
      4,
      {
        resources: [{ resourceType: 2, resourceName: 'kept', configurationKeys: ['retention.ms'] }],
        includeSynonyms: false,
        includeDocumentation: false,
      },
    );
    expect(response.results[0]).toMatchObject({
      errorCode: ErrorCode.NONE,
      configs: [{ name: 'retention.ms', value: '1000' }],
    });
  });
});
