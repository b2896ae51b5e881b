import type { BrokerContext } from '../broker-context.js';
import { TOPIC_CONFIGS, validateTopicConfig } from '../metadata/topic-config.js';
import { ErrorCode } from '../protocol/error-codes.js';
import {
  IncrementalAlterConfigsRequestCodec,
  type IncrementalAlterConfigsRequest,
  type IncrementalAlterConfigsRequestAlterConfigsResource,
  type IncrementalAlterConfigsResponse,
} from '../protocol/generated/index.js';
import { alterConfigsResources, duplicates, type ConfigPlan } from './admin-common.js';
import type { Handler } from './handler.js';

/** Kafka's AlterConfigOp.OpType ids. */
export const ConfigOperation = { SET: 0, DELETE: 1, APPEND: 2, SUBTRACT: 3 } as const;

/**
 * Validates every operation up front, so a resource is changed entirely or not at all, and
 * returns the change to apply to the stored config set. APPEND and SUBTRACT exist for list-type
 * configs; no whitelisted topic config is a list (cleanup.policy only accepts "delete").
 */
function incrementalPlan(resource: IncrementalAlterConfigsRequestAlterConfigsResource): ConfigPlan {
  const dup = duplicates(resource.configs.map((c) => c.name));
  if (dup.size > 0) {
    return {
      code: ErrorCode.INVALID_REQUEST,
      message: `Error due to duplicate config keys: ${[...dup].join(', ')}`,
    };
  }
  const set: Record<string, string> = {};
  const deleted: string[] = [];
  for (const op of resource.configs) {
    const value = op.value ?? null;
    switch (op.configOperation) {
      case ConfigOperation.SET: {
        if (value === null) {
          return {
            code: ErrorCode.INVALID_REQUEST,
            message: `Null value not supported for: ${op.name}`,
          };
        }
        const error = validateTopicConfig(op.name, value);
        if (error) return { code: ErrorCode.INVALID_CONFIG, message: error };
        set[op.name] = value;
        break;
      }
      case ConfigOperation.DELETE: {
        const error = validateTopicConfig(op.name, null);
        if (error) return { code: ErrorCode.INVALID_CONFIG, message: error };
        deleted.push(op.name);
        break;
      }
      case ConfigOperation.APPEND:
      case ConfigOperation.SUBTRACT: {
        const verb = op.configOperation === ConfigOperation.APPEND ? 'APPEND' : 'SUBTRACT';
        const message = TOPIC_CONFIGS[op.name]
          ? `${verb} is only supported for list-type configs; ${op.name} is not a list`
          : (validateTopicConfig(op.name, null) as string);
        return { code: ErrorCode.INVALID_CONFIG, message };
      }
      default:
        return {
          code: ErrorCode.INVALID_REQUEST,
          message: `Unknown config operation ${op.configOperation} for ${op.name}`,
        };
    }
  }
  return (current) => {
    const next = { ...current, ...set };
    for (const name of deleted) delete next[name];
    return next;
  };
}

export function incrementalAlterConfigsHandler(
  broker: BrokerContext,
): Handler<IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse> {
  return {
    apiKey: IncrementalAlterConfigsRequestCodec.apiKey,
    minVersion: IncrementalAlterConfigsRequestCodec.minVersion,
    maxVersion: IncrementalAlterConfigsRequestCodec.maxVersion,
    async handle(request) {
      const responses = await alterConfigsResources(
        broker,
        request.resources,
        request.validateOnly,
        incrementalPlan,
      );
      return { throttleTimeMs: 0, responses };
    },
  };
}
