import type { BrokerContext } from '../broker-context.js';
import type { ConsumerGroup } from '../groups/consumer-group.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { MetadataUnavailableError } from '../metadata/metadata-store.js';
import { errorCodeOf } from '../log/kafka-error.js';

/**
 * The group for a request, or the error code to answer with: NOT_COORDINATOR when another
 * broker coordinates it, COORDINATOR_LOAD_IN_PROGRESS while the previous coordinator lets go,
 * COORDINATOR_NOT_AVAILABLE when the metadata store cannot be reached.
 */
export async function lookupGroup(
  broker: BrokerContext,
  groupId: string,
): Promise<ConsumerGroup | number> {
  try {
    return await broker.groups.group(groupId);
  } catch (err) {
    return lookupError(broker, groupId, err);
  }
}

/** Like lookupGroup, but undefined for a group that never existed (describe, delete). */
export async function lookupExistingGroup(
  broker: BrokerContext,
  groupId: string,
): Promise<ConsumerGroup | undefined | number> {
  try {
    return await broker.groups.existingGroup(groupId);
  } catch (err) {
    return lookupError(broker, groupId, err);
  }
}

function lookupError(broker: BrokerContext, groupId: string, err: unknown): number {
  if (err instanceof MetadataUnavailableError) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
  const code = errorCodeOf(err, ErrorCode.UNKNOWN_SERVER_ERROR);
  if (code === ErrorCode.UNKNOWN_SERVER_ERROR) {
    broker.logger.error('group lookup failed', { groupId, err: String(err) });
  }
  return code;
}
