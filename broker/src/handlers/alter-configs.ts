import type { BrokerContext } from '../broker-context.js';
import { validateTopicConfig } from '../metadata/topic-config.js';
import { ErrorCode } from '../protocol/error-codes.js';
import {
  AlterConfigsRequestCodec,
  type AlterConfigsRequest,
  type AlterConfigsRequestAlterConfigsResource,
  type AlterConfigsResponse,
} from '../protocol/generated/index.js';
import { alterConfigsResources, duplicates, type ConfigPlan } from './admin-common.js';
import type { Handler } from './handler.js';

/**
 * The legacy AlterConfigs replaces the whole config set of a topic: configs not named go back to
 * their defaults, and a null value means "not set" (as Kafka drops null entries).
 */
function replacePlan(resource: AlterConfigsRequestAlterConfigsResource): ConfigPlan {
  const dup = duplicates(resource.configs.map((c) => c.name));
  if (dup.size > 0) {
    return {
      code: ErrorCode.INVALID_REQUEST,
      message: `Error due to duplicate config keys: ${[...dup].join(', ')}`,
    };
  }
  const configs: Record<string, string> = {};
  for (const entry of resource.configs) {
    const value = entry.value ?? null;
    const error = validateTopicConfig(entry.name, value);
    if (error) return { code: ErrorCode.INVALID_CONFIG, message: error };
    if (value !== null) configs[entry.name] = value;
  }
  return () => configs;
}

export function alterConfigsHandler(
  broker: BrokerContext,
): Handler<AlterConfigsRequest, AlterConfigsResponse> {
  return {
    apiKey: AlterConfigsRequestCodec.apiKey,
    minVersion: AlterConfigsRequestCodec.minVersion,
    maxVersion: AlterConfigsRequestCodec.maxVersion,
    async handle(request) {
      const responses = await alterConfigsResources(
        broker,
        request.resources,
        request.validateOnly,
        replacePlan,
      );
      return { throttleTimeMs: 0, responses };
    },
  };
}
