import type { BrokerContext } from '../broker-context.js';
import { validateTopicConfig } from '../metadata/topic-config.js';
import { ErrorCode } from '../protocol/error-codes.js';
import {
  CreateTopicsRequestCodec,
  type CreateTopicsRequest,
  type CreateTopicsRequestCreatableTopic,
  type CreateTopicsResponse,
  type CreateTopicsResponseCreatableTopicResult,
} from '../protocol/generated/index.js';
import {
  ADMIN_APIS_DISABLED,
  MAX_PARTITIONS,
  ZERO_UUID,
  apiError,
  createdTopicConfigs,
  duplicates,
  topicNameError,
} from './admin-common.js';
import type { Handler } from './handler.js';

/**
 * Replicas are not ours to place: durability comes from the object store, so every partition has
 * exactly one (stateless) leader. Any positive replication factor, or -1 for the default, is
 * accepted and reported as this.
 */
export const REPLICATION_FACTOR = 1;

type TopicResult = CreateTopicsResponseCreatableTopicResult;

function failed(name: string, code: number, message: string): TopicResult {
  return { name, errorCode: code, errorMessage: message };
}

export function createTopicsHandler(
  broker: BrokerContext,
): Handler<CreateTopicsRequest, CreateTopicsResponse> {
  const { config, metadata, logger } = broker;

  /** The partition count and configs to create with, or the error that refuses the topic. */
  function validate(
    topic: CreateTopicsRequestCreatableTopic,
  ): { partitions: number; configs: Record<string, string> } | TopicResult {
    const { name } = topic;
    const nameError = topicNameError(name);
    if (nameError) return failed(name, ErrorCode.INVALID_TOPIC_EXCEPTION, nameError);
    if (metadata.topic(name)) {
      return failed(name, ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${name}' already exists.`);
    }
    if (topic.assignments.length > 0) {
      return failed(
        name,
        ErrorCode.INVALID_REQUEST,
        'Manual replica assignments are not supported: partitions are placed by the cluster',
      );
    }
    const partitions =
      topic.numPartitions === -1 ? config.autoCreatePartitions : topic.numPartitions;
    if (partitions < 1) {
      return failed(
        name,
        ErrorCode.INVALID_PARTITIONS,
        'Number of partitions must be larger than 0, or -1 to use the default value.',
      );
    }
    if (partitions > MAX_PARTITIONS) {
      return failed(
        name,
        ErrorCode.INVALID_PARTITIONS,
        `Number of partitions ${partitions} is larger than the maximum of ${MAX_PARTITIONS}.`,
      );
    }
    if (topic.replicationFactor !== -1 && topic.replicationFactor < 1) {
      return failed(
        name,
        ErrorCode.INVALID_REPLICATION_FACTOR,
        'Replication factor must be larger than 0, or -1 to use the default value.',
      );
    }
    const configs: Record<string, string> = {};
    for (const entry of topic.configs) {
      const value = entry.value ?? null;
      if (value === null) {
        return failed(
          name,
          ErrorCode.INVALID_CONFIG,
          `Null value not supported for topic config ${entry.name}`,
        );
      }
      const error = validateTopicConfig(entry.name, value);
      if (error) return failed(name, ErrorCode.INVALID_CONFIG, error);
      configs[entry.name] = value;
    }
    return { partitions, configs };
  }

  async function create(
    topic: CreateTopicsRequestCreatableTopic,
    validateOnly: boolean,
  ): Promise<TopicResult> {
    const { name } = topic;
    const plan = validate(topic);
    if ('errorCode' in plan) return plan;
    const created = (id: string, partitions: number, configs: Record<string, string>) => ({
      name,
      topicId: id,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      numPartitions: partitions,
      replicationFactor: REPLICATION_FACTOR,
      configs: createdTopicConfigs({ configs }, config),
    });
    if (validateOnly) return created(ZERO_UUID, plan.partitions, plan.configs);
    try {
      const record = await metadata.createTopic(name, plan.partitions, plan.configs);
      // Another broker (or request) created it between the check above and our transaction.
      if (!record)
        return failed(name, ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${name}' already exists.`);
      logger.info('topic created', { topic: name, id: record.id, partitions: record.partitions });
      return created(record.id, record.partitions, record.configs);
    } catch (err) {
      const { code, message } = apiError(err, logger, `creating topic ${name}`);
      return failed(name, code, message);
    }
  }

  return {
    apiKey: CreateTopicsRequestCodec.apiKey,
    minVersion: CreateTopicsRequestCodec.minVersion,
    maxVersion: CreateTopicsRequestCodec.maxVersion,
    async handle(request) {
      if (!config.allowAdminApis) {
        return {
          throttleTimeMs: 0,
          topics: request.topics.map((t) =>
            failed(t.name, ErrorCode.TOPIC_AUTHORIZATION_FAILED, ADMIN_APIS_DISABLED),
          ),
        };
      }
      // As Kafka: a name given twice is refused once, and none of its entries is created.
      const dup = duplicates(request.topics.map((t) => t.name));
      const unique = request.topics.filter((t) => !dup.has(t.name));
      const validateOnly = request.validateOnly ?? false;
      const results = await Promise.all(unique.map((t) => create(t, validateOnly)));
      for (const name of dup) {
        results.push(
          failed(
            name,
            ErrorCode.INVALID_REQUEST,
            `Create topics request contains multiple entries for topic ${name}`,
          ),
        );
      }
      return { throttleTimeMs: 0, topics: results };
    },
  };
}
