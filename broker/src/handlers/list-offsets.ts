import type { BrokerContext } from '../broker-context.js';
import type {
  ListOffsetsRequest,
  ListOffsetsResponse,
  ListOffsetsResponseListOffsetsPartitionResponse,
} from '../protocol/generated/index.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { errorCodeOf } from '../log/kafka-error.js';
import type { Handler } from './handler.js';
import { leaderEpochError } from './leader-epoch.js';

const LATEST = -1;
const EARLIEST = -2;
const MAX_TIMESTAMP = -3;
const EARLIEST_LOCAL = -4;
const LATEST_TIERED = -5;

/**
 * ListOffsets v0-10: earliest, latest, max timestamp and by timestamp: the first record at or
 * after the target (see PartitionLog.offsetForTimestamp for batches the broker cannot read).
 */
export function listOffsetsHandler(
  broker: BrokerContext,
): Handler<ListOffsetsRequest, ListOffsetsResponse> {
  return {
    apiKey: 2,
    minVersion: 0,
    maxVersion: 10,
    async handle(request, ctx) {
      const v = ctx.apiVersion;
      // Partitions are answered at the same time: a consumer starting on hundreds of them asks
      // for all at once, and each may have to open its log (metadata round trips) or read.
      const topics = await Promise.all(
        request.topics.map(async (t) => {
          const topic = broker.metadata.topic(t.name);
          const partitions = await Promise.all(
            t.partitions.map(async (p) => {
              const out: ListOffsetsResponseListOffsetsPartitionResponse = {
                partitionIndex: p.partitionIndex,
                errorCode: ErrorCode.NONE,
              };
              if (!topic || p.partitionIndex < 0 || p.partitionIndex >= topic.partitions) {
                out.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
                return out;
              }
              try {
                const log = await broker.logs.get(topic.name, p.partitionIndex);
                out.errorCode = leaderEpochError(p.currentLeaderEpoch, log.leaderEpoch);
                if (out.errorCode !== ErrorCode.NONE) return out;
                if (v >= 4) out.leaderEpoch = log.leaderEpoch;
                let found: { offset: number; timestamp: number };
                if (p.timestamp === LATEST || p.timestamp === LATEST_TIERED) {
                  found = { offset: log.highWatermark, timestamp: -1 };
                } else if (p.timestamp === EARLIEST || p.timestamp === EARLIEST_LOCAL) {
                  found = { offset: log.logStartOffset, timestamp: -1 };
                } else if (p.timestamp === MAX_TIMESTAMP) {
                  found = log.maxTimestamp();
                } else {
                  found = await log.offsetForTimestamp(p.timestamp);
                }
                if (v === 0) {
                  out.oldStyleOffsets = found.offset >= 0 ? [found.offset] : [];
                } else {
                  out.offset = found.offset;
                  out.timestamp = found.timestamp;
                }
              } catch (err) {
                out.errorCode = errorCodeOf(err, ErrorCode.UNKNOWN_SERVER_ERROR);
              }
              return out;
            }),
          );
          return { name: t.name, partitions };
        }),
      );
      return { throttleTimeMs: 0, topics };
    },
  };
}
