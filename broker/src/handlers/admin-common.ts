// What the admin API handlers share: Kafka's topic name rules, the error a failed metadata call
// turns into, and the effective topic configs as DescribeConfigs and CreateTopics report them.
import type { BrokerContext } from '../broker-context.js';
import type { BrokerConfig } from '../config.js';
import { KafkaError } from '../log/kafka-error.js';
import type { Logger } from '../logger.js';
import { MetadataUnavailableError } from '../metadata/metadata-store.js';
import type { TopicRecord } from '../metadata/model.js';
import { TOPIC_CONFIGS } from '../metadata/topic-config.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { isValidTopicName } from './topic-names.js';

export const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

export const ADMIN_APIS_DISABLED =
  'admin APIs are disabled on this cluster (KAFSCALE_ALLOW_ADMIN_APIS)';

/**
 * Every partition is one metadata key written in one transaction, so an absurd count (a client
 * bug, or 2^31-1) must be refused before anything is allocated. Same bound as
 * KAFSCALE_AUTO_CREATE_PARTITIONS.
 */
export const MAX_PARTITIONS = 100_000;

/** Kafka's ConfigResource.Type values. */
export const ResourceType = { TOPIC: 2, BROKER: 4 } as const;

/** Kafka's ConfigEntry.ConfigSource values (DescribeConfigsResponse.ConfigSource). */
export const ConfigSource = {
  DYNAMIC_TOPIC_CONFIG: 1,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
} as const;

/** Kafka's ConfigDef.Type ids as DescribeConfigs v3+ reports them. */
export const ConfigType = { BOOLEAN: 1, STRING: 2, INT: 3, LONG: 5 } as const;

/** Kafka's Topic.validate with its messages: an error message, or undefined for a legal name. */
export function topicNameError(name: string): string | undefined {
  if (isValidTopicName(name)) return undefined;
  if (name.length === 0) return "Topic name is illegal, it can't be empty";
  if (name === '.' || name === '..') return 'Topic name cannot be "." or ".."';
  if (name.length > 249) {
    return `Topic name is illegal, it can't be longer than 249 characters, topic name: ${name}`;
  }
  return `Topic name "${name}" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'`;
}

export interface ApiError {
  code: number;
  message: string;
}

/**
 * The error code and message for a failure of a metadata or log call. A store that did not answer
 * is a timeout to the client (retriable), as a Kafka controller that did not answer in time.
 */
export function apiError(err: unknown, logger: Logger, what: string): ApiError {
  if (err instanceof KafkaError) return { code: err.code, message: err.message };
  if (err instanceof MetadataUnavailableError) {
    return {
      code: ErrorCode.REQUEST_TIMED_OUT,
      message: `metadata store unavailable: ${err.message}`,
    };
  }
  logger.error(`${what} failed`, { err: String(err) });
  return { code: ErrorCode.UNKNOWN_SERVER_ERROR, message: `${what} failed: ${String(err)}` };
}

export interface EffectiveConfig {
  name: string;
  value: string;
  /** ConfigSource of the value. */
  source: number;
  configType: number;
  doc: string;
}

const TOPIC_CONFIG_TYPES: Record<string, number> = {
  'retention.ms': ConfigType.LONG,
  'retention.bytes': ConfigType.LONG,
  'max.message.bytes': ConfigType.INT,
  'segment.bytes': ConfigType.INT,
};

/**
 * Every whitelisted config of a topic with the value in effect. segment.bytes has no default of
 * its own: segments are cut by the broker's KAFSCALE_SEGMENT_BYTES, so that is what is reported.
 */
export function effectiveTopicConfigs(
  configs: Record<string, string>,
  broker: BrokerConfig,
): EffectiveConfig[] {
  return Object.entries(TOPIC_CONFIGS).map(([name, spec]) => {
    const set = Object.hasOwn(configs, name);
    const fallback = name === 'segment.bytes' ? String(broker.segmentBytes) : spec.default;
    return {
      name,
      value: set ? configs[name] : fallback,
      source: set ? ConfigSource.DYNAMIC_TOPIC_CONFIG : ConfigSource.DEFAULT_CONFIG,
      configType: TOPIC_CONFIG_TYPES[name] ?? ConfigType.STRING,
      doc: spec.doc,
    };
  });
}

/** The topic's configs as CreateTopics v5+ reports them. */
export function createdTopicConfigs(topic: Pick<TopicRecord, 'configs'>, broker: BrokerConfig) {
  return effectiveTopicConfigs(topic.configs, broker).map((c) => ({
    name: c.name,
    value: c.value,
    readOnly: false,
    configSource: c.source,
    isSensitive: false,
  }));
}

/** Names that occur more than once, for the requests where Kafka refuses duplicates. */
export function duplicates<T>(items: T[]): Set<T> {
  const seen = new Set<T>();
  const dup = new Set<T>();
  for (const item of items) {
    if (seen.has(item)) dup.add(item);
    seen.add(item);
  }
  return dup;
}

export interface AlterResourceResult {
  errorCode: number;
  errorMessage: string | null;
  resourceType: number;
  resourceName: string;
}

/** A validated config change: the new config set from the current one, or why it is refused. */
export type ConfigPlan = ((current: Record<string, string>) => Record<string, string>) | ApiError;

/**
 * The part AlterConfigs and IncrementalAlterConfigs share: authorization, resource type, topic
 * existence, validateOnly, and applying the change to the stored record (not the cached one), so
 * a concurrent change on another broker is never lost.
 */
async function alterConfigsResource(
  broker: BrokerContext,
  resourceType: number,
  resourceName: string,
  validateOnly: boolean,
  plan: () => ConfigPlan,
): Promise<AlterResourceResult> {
  const { config, metadata, logger } = broker;
  const result = (code: number, message: string | null) => ({
    errorCode: code,
    errorMessage: message,
    resourceType,
    resourceName,
  });
  if (!config.allowAdminApis) {
    const code =
      resourceType === ResourceType.TOPIC
        ? ErrorCode.TOPIC_AUTHORIZATION_FAILED
        : ErrorCode.CLUSTER_AUTHORIZATION_FAILED;
    return result(code, ADMIN_APIS_DISABLED);
  }
  if (resourceType === ResourceType.BROKER) {
    return result(
      ErrorCode.INVALID_REQUEST,
      'Dynamic broker configs are not supported: brokers are configured by KAFSCALE_* environment variables',
    );
  }
  if (resourceType !== ResourceType.TOPIC) {
    return result(
      ErrorCode.INVALID_REQUEST,
      `Resource type ${resourceType} is not supported: only topic configs can be altered`,
    );
  }
  if (!metadata.topic(resourceName)) {
    return result(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic ${resourceName} does not exist.`);
  }
  const change = plan();
  if (typeof change !== 'function') return result(change.code, change.message);
  if (validateOnly) return result(ErrorCode.NONE, null);
  try {
    const updated = await metadata.updateTopic(resourceName, (t) => ({
      ...t,
      configs: change(t.configs),
    }));
    if (!updated) {
      return result(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic ${resourceName} does not exist.`);
    }
    logger.info('topic configs altered', { topic: resourceName, configs: updated.configs });
    return result(ErrorCode.NONE, null);
  } catch (err) {
    const { code, message } = apiError(err, logger, `altering configs of ${resourceName}`);
    return result(code, message);
  }
}

/** Alters every resource of a request; a resource named twice is refused, as Kafka does. */
export async function alterConfigsResources<
  R extends { resourceType: number; resourceName: string },
>(
  broker: BrokerContext,
  resources: R[],
  validateOnly: boolean,
  planFor: (resource: R) => ConfigPlan,
): Promise<AlterResourceResult[]> {
  const key = (r: R) => `${r.resourceType}:${r.resourceName}`;
  const dup = duplicates(resources.map(key));
  return Promise.all(
    resources.map((r) =>
      dup.has(key(r))
        ? {
            errorCode: ErrorCode.INVALID_REQUEST,
            errorMessage: 'Duplicate resource.',
            resourceType: r.resourceType,
            resourceName: r.resourceName,
          }
        : alterConfigsResource(broker, r.resourceType, r.resourceName, validateOnly, () =>
            planFor(r),
          ),
    ),
  );
}
