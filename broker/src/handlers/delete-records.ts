import type { BrokerContext } from '../broker-context.js';
import { ErrorCode } from '../protocol/error-codes.js';
import {
  DeleteRecordsRequestCodec,
  type DeleteRecordsRequest,
  type DeleteRecordsResponse,
  type DeleteRecordsResponseDeleteRecordsPartitionResult,
} from '../protocol/generated/index.js';
import { apiError } from './admin-common.js';
import type { Handler } from './handler.js';

type PartitionResult = DeleteRecordsResponseDeleteRecordsPartitionResult;

/** The request's "delete everything committed so far" offset. */
export const HIGH_WATERMARK = -1;

function failed(partitionIndex: number, errorCode: number): PartitionResult {
  return { partitionIndex, lowWatermark: -1, errorCode };
}

export function deleteRecordsHandler(
  broker: BrokerContext,
): Handler<DeleteRecordsRequest, DeleteRecordsResponse> {
  const { config, metadata, logs, logger } = broker;

  async function truncate(
    topic: string,
    partition: number,
    offset: number,
  ): Promise<PartitionResult> {
    const record = metadata.topic(topic);
    if (!record || partition < 0 || partition >= record.partitions) {
      return failed(partition, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    }
    if (offset < HIGH_WATERMARK) return failed(partition, ErrorCode.OFFSET_OUT_OF_RANGE);
    try {
      const log = await logs.get(topic, partition);
      const target = offset === HIGH_WATERMARK ? log.highWatermark : offset;
      if (target > log.highWatermark) return failed(partition, ErrorCode.OFFSET_OUT_OF_RANGE);
      const lowWatermark = await log.truncateBefore(target);
      logger.info('records deleted', { topic, partition, lowWatermark });
      return { partitionIndex: partition, lowWatermark, errorCode: ErrorCode.NONE };
    } catch (err) {
      return failed(
        partition,
        apiError(err, logger, `deleting records of ${topic}-${partition}`).code,
      );
    }
  }

  return {
    apiKey: DeleteRecordsRequestCodec.apiKey,
    minVersion: DeleteRecordsRequestCodec.minVersion,
    maxVersion: DeleteRecordsRequestCodec.maxVersion,
    async handle(request) {
      const topics = await Promise.all(
        request.topics.map(async (t) => ({
          name: t.name,
          partitions: await Promise.all(
            t.partitions.map((p) =>
              config.allowAdminApis
                ? truncate(t.name, p.partitionIndex, p.offset)
                : failed(p.partitionIndex, ErrorCode.TOPIC_AUTHORIZATION_FAILED),
            ),
          ),
        })),
      );
      return { throttleTimeMs: 0, topics };
    },
  };
}
