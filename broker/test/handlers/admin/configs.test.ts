import { alterConfigsHandler } from '../../../src/handlers/alter-configs.js';
import { describeConfigsHandler } from '../../../src/handlers/describe-configs.js';
import { incrementalAlterConfigsHandler } from '../../../src/handlers/incremental-alter-configs.js';
import { TOPIC_CONFIGS } from '../../../src/metadata/topic-config.js';
import { ErrorCode } from '../../../src/protocol/error-codes.js';
import type {
  AlterConfigsRequestAlterConfigsResource,
  AlterConfigsResponse,
  DescribeConfigsRequestDescribeConfigsResource,
  DescribeConfigsResponse,
  IncrementalAlterConfigsRequestAlterConfigsResource,
  IncrementalAlterConfigsResponse,
} from '../../../src/protocol/generated/index.js';
import {
  callAtVersion,
  createTestBrokerContext,
  type TestBrokerContext,
} from '../../support/test-broker-context.js';

const TOPIC = 2;
const BROKER = 4;
const BROKER_LOGGER = 8;
const [SET, DELETE, APPEND, SUBTRACT] = [0, 1, 2, 3];

let broker: TestBrokerContext;
beforeEach(async () => {
  broker = await createTestBrokerContext({ env: { KAFSCALE_BROKER_ID: '7' } });
  await broker.metadata.createTopic('t', 1, { 'retention.ms': '5000' });
});
afterEach(() => broker.close());

function describeConfigs(
  version: number,
  resources: DescribeConfigsRequestDescribeConfigsResource[],
  options: { includeSynonyms?: boolean; includeDocumentation?: boolean } = {},
): Promise<DescribeConfigsResponse> {
  return callAtVersion(describeConfigsHandler(broker), version, {
    resources,
    includeSynonyms: false,
    includeDocumentation: false,
    ...options,
  });
}

function alter(
  version: number,
  resources: AlterConfigsRequestAlterConfigsResource[],
  validateOnly = false,
): Promise<AlterConfigsResponse> {
  return callAtVersion(alterConfigsHandler(broker), version, { resources, validateOnly });
}

function incremental(
  version: number,
  resources: IncrementalAlterConfigsRequestAlterConfigsResource[],
  validateOnly = false,
): Promise<IncrementalAlterConfigsResponse> {
  return callAtVersion(incrementalAlterConfigsHandler(broker), version, {
    resources,
    validateOnly,
  });
}

function byName<T extends { name: string }>(entries: T[]): Record<string, T> {
  return Object.fromEntries(entries.map((e) => [e.name, e]));
}

it('serves every version of the codecs', () => {
  const versions = [
    describeConfigsHandler(broker),
    alterConfigsHandler(broker),
    incrementalAlterConfigsHandler(broker),
  ].map((h) => [h.apiKey, h.minVersion, h.maxVersion]);
  expect(versions).toEqual([
    [32, 0, 4],
    [33, 0, 2],
    [44, 0, 1],
  ]);
});

describe('DescribeConfigs', () => {
  it('describes every whitelisted topic config at v4 with sources and types', async () => {
    const response = await describeConfigs(4, [
      { resourceType: TOPIC, resourceName: 't', configurationKeys: null },
    ]);
    const [result] = response.results;
    expect(result).toMatchObject({
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      resourceType: TOPIC,
      resourceName: 't',
    });
    const configs = byName(result.configs);
    expect(Object.keys(configs).sort()).toEqual(Object.keys(TOPIC_CONFIGS).sort());
    expect(configs['retention.ms']).toMatchObject({
      value: '5000',
      readOnly: false,
      configSource: 1,
      isSensitive: false,
      configType: 5,
      synonyms: [],
      documentation: null,
    });
    expect(configs['cleanup.policy']).toMatchObject({
      value: 'delete',
      configSource: 5,
      configType: 2,
    });
    expect(configs['max.message.bytes']).toMatchObject({ value: '1048588', configType: 3 });
    expect(configs['segment.bytes'].value).toBe(String(broker.config.segmentBytes));
  });

  it('uses isDefault at v0', async () => {
    const response = await describeConfigs(0, [
      { resourceType: TOPIC, resourceName: 't', configurationKeys: null },
    ]);
    const configs = byName(response.results[0].configs);
    expect(configs['retention.ms']).toMatchObject({ value: '5000', isDefault: false });
    expect(configs['retention.bytes']).toMatchObject({ value: '-1', isDefault: true });
  });

  it('lists only the requested keys, skipping unknown ones', async () => {
    const response = await describeConfigs(1, [
      {
        resourceType: TOPIC,
        resourceName: 't',
        configurationKeys: ['retention.bytes', 'min.insync.replicas'],
      },
    ]);
    expect(response.results[0].configs.map((c) => c.name)).toEqual(['retention.bytes']);
  });

  it('includes synonyms (v1+) and documentation (v3+) when asked', async () => {
    const response = await describeConfigs(
      3,
      [{ resourceType: TOPIC, resourceName: 't', configurationKeys: ['retention.ms'] }],
      { includeSynonyms: true, includeDocumentation: true },
    );
    const [entry] = response.results[0].configs;
    expect(entry.synonyms).toEqual([
      { name: 'retention.ms', value: '5000', source: 1 },
      { name: 'retention.ms', value: TOPIC_CONFIGS['retention.ms'].default, source: 5 },
    ]);
    expect(entry.documentation).toBe(TOPIC_CONFIGS['retention.ms'].doc);
  });

  it('answers UNKNOWN_TOPIC_OR_PARTITION for an unknown topic', async () => {
    const response = await describeConfigs(4, [
      { resourceType: TOPIC, resourceName: 'nope', configurationKeys: null },
    ]);
    expect(response.results[0]).toMatchObject({
      errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      resourceName: 'nope',
      configs: [],
    });
  });

  it('answers INVALID_TOPIC_EXCEPTION for an illegal topic name', async () => {
    const response = await describeConfigs(2, [
      { resourceType: TOPIC, resourceName: 'a/b', configurationKeys: null },
    ]);
    expect(response.results[0].errorCode).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION);
  });

  it('describes this broker read-only, by its id or the empty name', async () => {
    for (const resourceName of ['7', '']) {
      const response = await describeConfigs(4, [
        { resourceType: BROKER, resourceName, configurationKeys: null },
      ]);
      const [result] = response.results;
      expect(result.errorCode).toBe(ErrorCode.NONE);
      const configs = byName(result.configs);
      expect(configs['log.segment.bytes']).toMatchObject({
        value: String(broker.config.segmentBytes),
        readOnly: true,
        configSource: 4,
        configType: 3,
      });
      expect(configs['auto.create.topics.enable']).toMatchObject({ value: 'true', configType: 1 });
      expect(configs['num.partitions'].value).toBe(String(broker.config.autoCreatePartitions));
      expect(configs['message.max.bytes'].value).toBe('1048588');
      expect(configs['broker.id'].value).toBe('7');
    }
    const v0 = await describeConfigs(0, [
      { resourceType: BROKER, resourceName: '7', configurationKeys: ['num.partitions'] },
    ]);
    expect(v0.results[0].configs).toMatchObject([
      { name: 'num.partitions', readOnly: true, isDefault: false },
    ]);
  });

  it('refuses another broker id and other resource types with INVALID_REQUEST', async () => {
    const response = await describeConfigs(4, [
      { resourceType: BROKER, resourceName: '8', configurationKeys: null },
      { resourceType: BROKER_LOGGER, resourceName: '7', configurationKeys: null },
      { resourceType: TOPIC, resourceName: 't', configurationKeys: ['retention.ms'] },
    ]);
    expect(response.results.map((r) => r.errorCode)).toEqual([
      ErrorCode.INVALID_REQUEST,
      ErrorCode.INVALID_REQUEST,
      ErrorCode.NONE,
    ]);
    expect(response.results[0].errorMessage).toContain('Unexpected broker id');
  });
});

describe('AlterConfigs', () => {
  it.each([0, 2])('replaces the whole config set at v%i', async (version) => {
    const response = await alter(version, [
      {
        resourceType: TOPIC,
        resourceName: 't',
        configs: [
          { name: 'retention.bytes', value: '1024' },
          { name: 'max.message.bytes', value: null },
        ],
      },
    ]);
    expect(response.responses).toEqual([
      { errorCode: ErrorCode.NONE, errorMessage: null, resourceType: TOPIC, resourceName: 't' },
    ]);
    // retention.ms was not named, so it went back to its default.
    expect(broker.metadata.topic('t')?.configs).toEqual({ 'retention.bytes': '1024' });
  });

  it('validates without changing when validateOnly is set', async () => {
    const response = await alter(
      1,
      [{ resourceType: TOPIC, resourceName: 't', configs: [] }],
      true,
    );
    expect(response.responses[0].errorCode).toBe(ErrorCode.NONE);
    expect(broker.metadata.topic('t')?.configs).toEqual({ 'retention.ms': '5000' });
  });

  it('refuses a resource named twice in one request', async () => {
    const response = await alter(2, [
      { resourceType: TOPIC, resourceName: 't', configs: [] },
      { resourceType: TOPIC, resourceName: 't', configs: [{ name: 'retention.ms', value: '1' }] },
    ]);
    expect(response.responses.map((r) => [r.errorCode, r.errorMessage])).toEqual([
      [ErrorCode.INVALID_REQUEST, 'Duplicate resource.'],
      [ErrorCode.INVALID_REQUEST, 'Duplicate resource.'],
    ]);
    expect(broker.metadata.topic('t')?.configs).toEqual({ 'retention.ms': '5000' });
  });

  it('refuses unknown and invalid configs with INVALID_CONFIG, changing nothing', async () => {
    const invalid = await alter(2, [
      {
        resourceType: TOPIC,
        resourceName: 't',
        configs: [
          { name: 'retention.bytes', value: '1' },
          { name: 'segment.ms', value: '1' },
        ],
      },
    ]);
    expect(invalid.responses[0]).toMatchObject({
      errorCode: ErrorCode.INVALID_CONFIG,
      errorMessage: 'unknown or unsupported topic config segment.ms',
    });
    const bad = await alter(0, [
      {
        resourceType: TOPIC,
        resourceName: 't',
        configs: [{ name: 'compression.type', value: 'gzip' }],
      },
    ]);
    expect(bad.responses[0].errorCode).toBe(ErrorCode.INVALID_CONFIG);
    expect(broker.metadata.topic('t')?.configs).toEqual({ 'retention.ms': '5000' });
  });

  it('refuses duplicate keys, unknown topics, broker and other resources', async () => {
    const response = await alter(2, [
      {
        resourceType: TOPIC,
        resourceName: 't',
        configs: [
          { name: 'retention.ms', value: '1' },
          { name: 'retention.ms', value: '2' },
        ],
      },
      { resourceType: TOPIC, resourceName: 'nope', configs: [] },
      {
        resourceType: BROKER,
        resourceName: '7',
        configs: [{ name: 'num.partitions', value: '3' }],
      },
      { resourceType: BROKER_LOGGER, resourceName: '7', configs: [] },
    ]);
    expect(response.responses.map((r) => r.errorCode)).toEqual([
      ErrorCode.INVALID_REQUEST,
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      ErrorCode.INVALID_REQUEST,
      ErrorCode.INVALID_REQUEST,
    ]);
    expect(response.responses[2].errorMessage).toContain(
      'Dynamic broker configs are not supported',
    );
  });
});

describe('IncrementalAlterConfigs', () => {
  it.each([0, 1])('sets and deletes single configs at v%i, keeping the rest', async (version) => {
    const response = await incremental(version, [
      {
        resourceType: TOPIC,
        resourceName: 't',
        configs: [
          { name: 'retention.bytes', configOperation: SET, value: '2048' },
          { name: 'max.message.bytes', configOperation: DELETE, value: null },
        ],
      },
    ]);
    expect(response.responses).toEqual([
      { errorCode: ErrorCode.NONE, errorMessage: null, resourceType: TOPIC, resourceName: 't' },
    ]);
    expect(broker.metadata.topic('t')?.configs).toEqual({
      'retention.ms': '5000',
      'retention.bytes': '2048',
    });
    await incremental(version, [
      {
        resourceType: TOPIC,
        resourceName: 't',
        configs: [{ name: 'retention.ms', configOperation: DELETE, value: null }],
      },
    ]);
    expect(broker.metadata.topic('t')?.configs).toEqual({ 'retention.bytes': '2048' });
  });

  it('validates without changing when validateOnly is set', async () => {
    const response = await incremental(
      1,
      [
        {
          resourceType: TOPIC,
          resourceName: 't',
          configs: [{ name: 'retention.ms', configOperation: SET, value: '1' }],
        },
      ],
      true,
    );
    expect(response.responses[0].errorCode).toBe(ErrorCode.NONE);
    expect(broker.metadata.topic('t')?.configs).toEqual({ 'retention.ms': '5000' });
  });

  it.each([
    [APPEND, 'cleanup.policy', 'delete', ErrorCode.INVALID_CONFIG, 'APPEND is only supported'],
    [SUBTRACT, 'cleanup.policy', 'delete', ErrorCode.INVALID_CONFIG, 'SUBTRACT is only supported'],
    [APPEND, 'follower.replication.throttled.replicas', '*', ErrorCode.INVALID_CONFIG, 'unknown'],
    [SET, 'retention.ms', 'never', ErrorCode.INVALID_CONFIG, 'invalid value never'],
    [SET, 'segment.ms', '1', ErrorCode.INVALID_CONFIG, 'unknown or unsupported'],
    [DELETE, 'segment.ms', null, ErrorCode.INVALID_CONFIG, 'unknown or unsupported'],
    [SET, 'retention.ms', null, ErrorCode.INVALID_REQUEST, 'Null value'],
    [9, 'retention.ms', '1', ErrorCode.INVALID_REQUEST, 'Unknown config operation 9'],
  ])('refuses operation %i on %s=%j', async (configOperation, name, value, code, message) => {
    const response = await incremental(1, [
      {
        resourceType: TOPIC,
        resourceName: 't',
        configs: [
          { name: 'retention.bytes', configOperation: SET, value: '1' },
          { name, configOperation, value },
        ],
      },
    ]);
    expect(response.responses[0].errorCode).toBe(code);
    expect(response.responses[0].errorMessage).toContain(message);
    // Nothing of the resource was applied, not even the valid operation before the bad one.
    expect(broker.metadata.topic('t')?.configs).toEqual({ 'retention.ms': '5000' });
  });

  it('refuses unknown topics, broker resources and duplicate keys', async () => {
    const response = await incremental(0, [
      { resourceType: TOPIC, resourceName: 'nope', configs: [] },
      {
        resourceType: BROKER,
        resourceName: '7',
        configs: [{ name: 'log.segment.bytes', configOperation: SET, value: '1' }],
      },
      {
        resourceType: TOPIC,
        resourceName: 't',
        configs: [
          { name: 'retention.ms', configOperation: SET, value: '1' },
          { name: 'retention.ms', configOperation: DELETE, value: null },
        ],
      },
    ]);
    expect(response.responses.map((r) => r.errorCode)).toEqual([
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      ErrorCode.INVALID_REQUEST,
      ErrorCode.INVALID_REQUEST,
    ]);
  });

  it('is seen by DescribeConfigs as a topic override', async () => {
    await incremental(1, [
      {
        resourceType: TOPIC,
        resourceName: 't',
        configs: [{ name: 'retention.bytes', configOperation: SET, value: '4096' }],
      },
    ]);
    const response = await describeConfigs(4, [
      { resourceType: TOPIC, resourceName: 't', configurationKeys: ['retention.bytes'] },
    ]);
    expect(response.results[0].configs).toMatchObject([
      { name: 'retention.bytes', value: '4096', configSource: 1 },
    ]);
  });
});
