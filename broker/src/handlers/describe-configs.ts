import type { BrokerContext } from '../broker-context.js';
import type { BrokerConfig } from '../config.js';
import { TOPIC_CONFIGS } from '../metadata/topic-config.js';
import { ErrorCode } from '../protocol/error-codes.js';
import {
  DescribeConfigsRequestCodec,
  type DescribeConfigsRequest,
  type DescribeConfigsRequestDescribeConfigsResource,
  type DescribeConfigsResponse,
  type DescribeConfigsResponseDescribeConfigsResourceResult,
  type DescribeConfigsResponseDescribeConfigsResult,
} from '../protocol/generated/index.js';
import {
  ConfigSource,
  ConfigType,
  ResourceType,
  effectiveTopicConfigs,
  topicNameError,
  type EffectiveConfig,
} from './admin-common.js';
import type { Handler } from './handler.js';

type ResourceResult = DescribeConfigsResponseDescribeConfigsResult;
type ConfigEntry = DescribeConfigsResponseDescribeConfigsResourceResult;

/**
 * The broker settings clients commonly look up, with their Kafka names. They come from the
 * broker's environment at start, so they are static and read-only (no dynamic broker configs).
 */
export function brokerConfigs(config: BrokerConfig, nodeId: number): EffectiveConfig[] {
  const entry = (
    name: string,
    value: string | number | boolean,
    configType: number,
    doc: string,
  ) => ({
    name,
    value: String(value),
    source: ConfigSource.STATIC_BROKER_CONFIG,
    configType,
    doc,
  });
  return [
    entry('broker.id', nodeId, ConfigType.INT, 'KAFSCALE_BROKER_ID.'),
    entry(
      'auto.create.topics.enable',
      config.autoCreateTopics,
      ConfigType.BOOLEAN,
      'KAFSCALE_AUTO_CREATE_TOPICS: create unknown topics a client asks Metadata for.',
    ),
    entry(
      'num.partitions',
      config.autoCreatePartitions,
      ConfigType.INT,
      'KAFSCALE_AUTO_CREATE_PARTITIONS: partitions of auto-created topics and of CreateTopics with -1.',
    ),
    entry(
      'default.replication.factor',
      1,
      ConfigType.INT,
      'Always 1: durability comes from the object store, not from replicas.',
    ),
    entry(
      'log.segment.bytes',
      config.segmentBytes,
      ConfigType.INT,
      'KAFSCALE_SEGMENT_BYTES: a segment object is flushed once this many bytes are waiting.',
    ),
    entry(
      'message.max.bytes',
      TOPIC_CONFIGS['max.message.bytes'].default,
      ConfigType.INT,
      'Largest record batch accepted by topics without max.message.bytes.',
    ),
    entry(
      'log.retention.ms',
      TOPIC_CONFIGS['retention.ms'].default,
      ConfigType.LONG,
      'retention.ms of topics that do not set it.',
    ),
    entry(
      'log.retention.bytes',
      TOPIC_CONFIGS['retention.bytes'].default,
      ConfigType.LONG,
      'retention.bytes of topics that do not set it.',
    ),
    entry(
      'socket.request.max.bytes',
      config.maxRequestBytes,
      ConfigType.INT,
      'KAFSCALE_MAX_REQUEST_BYTES: largest request frame accepted.',
    ),
    entry(
      'delete.topic.enable',
      config.allowAdminApis,
      ConfigType.BOOLEAN,
      'KAFSCALE_ALLOW_ADMIN_APIS: whether admin APIs (DeleteTopics among them) are allowed.',
    ),
  ];
}

export function describeConfigsHandler(
  broker: BrokerContext,
): Handler<DescribeConfigsRequest, DescribeConfigsResponse> {
  const { config, metadata } = broker;

  function failed(
    resource: DescribeConfigsRequestDescribeConfigsResource,
    code: number,
    message: string,
  ): ResourceResult {
    return {
      errorCode: code,
      errorMessage: message,
      resourceType: resource.resourceType,
      resourceName: resource.resourceName,
      configs: [],
    };
  }

  function describe(
    resource: DescribeConfigsRequestDescribeConfigsResource,
    includeSynonyms: boolean,
    includeDocumentation: boolean,
    version: number,
  ): ResourceResult {
    const { resourceType, resourceName } = resource;
    let entries: EffectiveConfig[];
    let readOnly: boolean;
    let defaults: Record<string, string> = {};
    if (resourceType === ResourceType.TOPIC) {
      const nameError = topicNameError(resourceName);
      if (nameError) return failed(resource, ErrorCode.INVALID_TOPIC_EXCEPTION, nameError);
      const topic = metadata.topic(resourceName);
      if (!topic) {
        return failed(
          resource,
          ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          `Topic ${resourceName} does not exist.`,
        );
      }
      entries = effectiveTopicConfigs(topic.configs, config);
      defaults = Object.fromEntries(
        effectiveTopicConfigs({}, config).map((c) => [c.name, c.value] as const),
      );
      readOnly = false;
    } else if (resourceType === ResourceType.BROKER) {
      // As Kafka: a broker describes itself; the empty name stands for the cluster default.
      if (resourceName !== '' && resourceName !== String(broker.self.nodeId)) {
        return failed(
          resource,
          ErrorCode.INVALID_REQUEST,
          `Unexpected broker id, expected ${broker.self.nodeId} or empty string, but received ${resourceName}`,
        );
      }
      entries = brokerConfigs(config, broker.self.nodeId);
      readOnly = true;
    } else {
      return failed(
        resource,
        ErrorCode.INVALID_REQUEST,
        `Resource type ${resourceType} is not supported: only topics (2) and brokers (4) have configs`,
      );
    }
    const keys = resource.configurationKeys;
    if (keys) entries = entries.filter((e) => keys.includes(e.name));
    const configs = entries.map((e): ConfigEntry => {
      const synonyms = [{ name: e.name, value: e.value, source: e.source }];
      if (e.source === ConfigSource.DYNAMIC_TOPIC_CONFIG) {
        synonyms.push({
          name: e.name,
          value: defaults[e.name],
          source: ConfigSource.DEFAULT_CONFIG,
        });
      }
      return {
        name: e.name,
        value: e.value,
        readOnly,
        // v0 only; later versions say it with configSource, and the codec refuses it there.
        ...(version === 0 && { isDefault: e.source === ConfigSource.DEFAULT_CONFIG }),
        configSource: e.source,
        isSensitive: false,
        synonyms: includeSynonyms ? synonyms : [],
        configType: e.configType,
        documentation: includeDocumentation ? e.doc : null,
      };
    });
    return { errorCode: ErrorCode.NONE, errorMessage: null, resourceType, resourceName, configs };
  }

  return {
    apiKey: DescribeConfigsRequestCodec.apiKey,
    minVersion: DescribeConfigsRequestCodec.minVersion,
    maxVersion: DescribeConfigsRequestCodec.maxVersion,
    handle(request, ctx) {
      const includeSynonyms = request.includeSynonyms ?? false;
      const includeDocumentation = request.includeDocumentation ?? false;
      return {
        throttleTimeMs: 0,
        results: request.resources.map((r) =>
          describe(r, includeSynonyms, includeDocumentation, ctx.apiVersion),
        ),
      };
    },
  };
}
