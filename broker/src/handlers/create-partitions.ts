import type { BrokerContext } from '../broker-context.js';
import { ErrorCode } from '../protocol/error-codes.js';
import {
  CreatePartitionsRequestCodec,
  type CreatePartitionsRequest,
  type CreatePartitionsRequestCreatePartitionsTopic,
  type CreatePartitionsResponse,
  type CreatePartitionsResponseCreatePartitionsTopicResult,
} from '../protocol/generated/index.js';
import { ADMIN_APIS_DISABLED, MAX_PARTITIONS, apiError, duplicates } from './admin-common.js';
import type { Handler } from './handler.js';

type TopicResult = CreatePartitionsResponseCreatePartitionsTopicResult;

function result(name: string, code: number, message: string | null): TopicResult {
  return { name, errorCode: code, errorMessage: message };
}

export function createPartitionsHandler(
  broker: BrokerContext,
): Handler<CreatePartitionsRequest, CreatePartitionsResponse> {
  const { config, metadata, logger } = broker;

  async function grow(
    topic: CreatePartitionsRequestCreatePartitionsTopic,
    validateOnly: boolean,
  ): Promise<TopicResult> {
    const { name, count } = topic;
    const current = metadata.topic(name);
    if (!current) {
      return result(
        name,
        ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        `The topic '${name}' does not exist.`,
      );
    }
    if (topic.assignments && topic.assignments.length > 0) {
      return result(
        name,
        ErrorCode.INVALID_REQUEST,
        'Manual replica assignments are not supported: partitions are placed by the cluster',
      );
    }
    if (count === current.partitions) {
      return result(name, ErrorCode.INVALID_PARTITIONS, `Topic already has ${count} partitions.`);
    }
    if (count < current.partitions) {
      return result(
        name,
        ErrorCode.INVALID_PARTITIONS,
        `Topic currently has ${current.partitions} partitions, which is higher than the requested ${count}.`,
      );
    }
    if (count > MAX_PARTITIONS) {
      return result(
        name,
        ErrorCode.INVALID_PARTITIONS,
        `Number of partitions ${count} is larger than the maximum of ${MAX_PARTITIONS}.`,
      );
    }
    if (validateOnly) return result(name, ErrorCode.NONE, null);
    try {
      const updated = await metadata.createPartitions(name, count);
      if (!updated) {
        return result(
          name,
          ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          `The topic '${name}' does not exist.`,
        );
      }
      logger.info('partitions created', { topic: name, from: current.partitions, to: count });
      return result(name, ErrorCode.NONE, null);
    } catch (err) {
      const { code, message } = apiError(err, logger, `creating partitions of ${name}`);
      return result(name, code, message);
    }
  }

  return {
    apiKey: CreatePartitionsRequestCodec.apiKey,
    minVersion: CreatePartitionsRequestCodec.minVersion,
    maxVersion: CreatePartitionsRequestCodec.maxVersion,
    async handle(request) {
      if (!config.allowAdminApis) {
        return {
          throttleTimeMs: 0,
          results: request.topics.map((t) =>
            result(t.name, ErrorCode.TOPIC_AUTHORIZATION_FAILED, ADMIN_APIS_DISABLED),
          ),
        };
      }
      const dup = duplicates(request.topics.map((t) => t.name));
      const unique = request.topics.filter((t) => !dup.has(t.name));
      const results = await Promise.all(unique.map((t) => grow(t, request.validateOnly)));
      for (const name of dup) {
        results.push(result(name, ErrorCode.INVALID_REQUEST, 'Duplicate topic in request.'));
      }
      return { throttleTimeMs: 0, results };
    },
  };
}
