import type { BrokerContext } from '../broker-context.js';
import { ErrorCode } from '../protocol/error-codes.js';
import {
  OffsetForLeaderEpochRequestCodec,
  type OffsetForLeaderEpochRequest,
  type OffsetForLeaderEpochRequestOffsetForLeaderPartition,
  type OffsetForLeaderEpochResponse,
  type OffsetForLeaderEpochResponseEpochEndOffset,
} from '../protocol/generated/index.js';
import { apiError } from './admin-common.js';
import type { Handler } from './handler.js';
import { leaderEpochError } from './leader-epoch.js';

type PartitionResult = OffsetForLeaderEpochResponseEpochEndOffset;

export interface EpochStart {
  epoch: number;
  startOffset: number;
}

const UNDEFINED = { leaderEpoch: -1, endOffset: -1 };

/**
 * Kafka's LeaderEpochFileCache.endOffsetFor: the largest epoch <= the requested one and the start
 * offset of the epoch after it (the end offset of the current epoch is the high watermark).
 * Epochs that began at the same offset as the next one hold no records; Kafka's cache drops them
 * when the next epoch starts, so they are dropped here too, or a follower-style truncation check
 * would be told an empty epoch ended where it began.
 */
export function endOffsetForEpoch(
  epochs: readonly EpochStart[],
  highWatermark: number,
  requested: number,
): { leaderEpoch: number; endOffset: number } {
  const cache = epochs.filter(
    (e, i) => i === epochs.length - 1 || epochs[i + 1].startOffset !== e.startOffset,
  );
  if (requested < 0 || cache.length === 0) return UNDEFINED;
  const latest = cache[cache.length - 1];
  if (requested === latest.epoch) return { leaderEpoch: requested, endOffset: highWatermark };
  const higher = cache.findIndex((e) => e.epoch > requested);
  // An epoch newer than any this partition had: the requester knows a future we do not.
  if (higher === -1) return UNDEFINED;
  const floor = higher > 0 ? cache[higher - 1].epoch : requested;
  return { leaderEpoch: floor, endOffset: cache[higher].startOffset };
}

export function offsetForLeaderEpochHandler(
  broker: BrokerContext,
): Handler<OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse> {
  const { metadata, logs, logger } = broker;

  async function lookup(
    topic: string,
    request: OffsetForLeaderEpochRequestOffsetForLeaderPartition,
  ): Promise<PartitionResult> {
    const { partition } = request;
    const failed = (errorCode: number) => ({ partition, errorCode, ...UNDEFINED });
    const record = metadata.topic(topic);
    if (!record || partition < 0 || partition >= record.partitions) {
      return failed(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    }
    try {
      const log = await logs.get(topic, partition);
      const epochError = leaderEpochError(request.currentLeaderEpoch, log.leaderEpoch);
      if (epochError !== ErrorCode.NONE) return failed(epochError);
      return {
        partition,
        errorCode: ErrorCode.NONE,
        ...endOffsetForEpoch(log.epochs, log.highWatermark, request.leaderEpoch),
      };
    } catch (err) {
      return failed(apiError(err, logger, `epoch lookup of ${topic}-${partition}`).code);
    }
  }

  return {
    apiKey: OffsetForLeaderEpochRequestCodec.apiKey,
    minVersion: OffsetForLeaderEpochRequestCodec.minVersion,
    maxVersion: OffsetForLeaderEpochRequestCodec.maxVersion,
    async handle(request) {
      const topics = await Promise.all(
        request.topics.map(async (t) => ({
          topic: t.topic,
          partitions: await Promise.all(t.partitions.map((p) => lookup(t.topic, p))),
        })),
      );
      return { throttleTimeMs: 0, topics };
    },
  };
}
