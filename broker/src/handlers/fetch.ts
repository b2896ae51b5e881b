import type { BrokerContext } from '../broker-context.js';
import type {
  FetchRequest,
  FetchResponse,
  FetchResponsePartitionData,
} from '../protocol/generated/index.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { errorCodeOf, KafkaError } from '../log/kafka-error.js';
import type { PartitionLog } from '../log/partition-log.js';
import type { Handler } from './handler.js';
import { leaderEpochError } from './leader-epoch.js';
import { addLeaderHints } from './leader-hints.js';
import { joinBuffers } from '../util/buffers.js';

const EMPTY = Buffer.alloc(0);
const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

interface Wanted {
  topic: string;
  topicId: string;
  partition: number;
  offset: number;
  maxBytes: number;
  currentLeaderEpoch?: number;
  /** Set when the partition cannot be read at all. */
  errorCode: number;
  log?: PartitionLog;
}

/**
 * Fetch v4-17 (v0-3 predate record batch v2 in responses). Serves committed data only, from the
 * cache or object storage; long-polls up to maxWaitMs for minBytes, woken by commits. Any broker
 * serves any partition: one it does not lead is read from its committed state in the bucket.
 * Fetch sessions are not created (session id 0): clients send full fetch requests.
 */
export function fetchHandler(broker: BrokerContext): Handler<FetchRequest, FetchResponse> {
  async function resolve(request: FetchRequest, v: number): Promise<Wanted[]> {
    const wanted: Wanted[] = [];
    for (const t of request.topics) {
      const topic =
        v >= 13
          ? broker.metadata.topicById(t.topicId ?? ZERO_UUID)
          : broker.metadata.topic(t.topic ?? '');
      for (const p of t.partitions) {
        const w: Wanted = {
          topic: topic?.name ?? t.topic ?? '',
          topicId: t.topicId ?? ZERO_UUID,
          partition: p.partition,
          offset: p.fetchOffset,
          maxBytes: p.partitionMaxBytes,
          currentLeaderEpoch: p.currentLeaderEpoch,
          errorCode: ErrorCode.NONE,
        };
        if (!topic) {
          w.errorCode = v >= 13 ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        } else if (p.partition < 0 || p.partition >= topic.partitions) {
          w.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        }
        wanted.push(w);
      }
    }
    // Every partition's log is looked up at once (opening or loading one costs metadata round
    // trips, which added up over hundreds of partitions).
    await Promise.all(
      wanted.map(async (w) => {
        if (w.errorCode !== ErrorCode.NONE) return;
        try {
          w.log = await broker.logs.reader(w.topic, w.partition);
          w.errorCode = leaderEpochError(w.currentLeaderEpoch, w.log.leaderEpoch);
        } catch (err) {
          w.errorCode = errorCodeOf(err, ErrorCode.UNKNOWN_SERVER_ERROR);
        }
      }),
    );
    return wanted;
  }

  async function readAll(
    wanted: Wanted[],
    maxBytes: number,
    v: number,
  ): Promise<{ partitions: FetchResponsePartitionData[]; bytes: number }> {
    let budget = maxBytes;
    let bytes = 0;
    const partitions: FetchResponsePartitionData[] = [];
    // Partitions are answered in order, but their object-store reads start together.
    for (const w of wanted) {
      if (w.log && w.errorCode === ErrorCode.NONE) w.log.warm(w.offset);
    }
    for (const w of wanted) {
      const data: FetchResponsePartitionData = {
        partitionIndex: w.partition,
        errorCode: w.errorCode,
        highWatermark: w.log?.highWatermark ?? -1,
        lastStableOffset: w.log?.highWatermark ?? -1,
        logStartOffset: w.log?.logStartOffset ?? -1,
        abortedTransactions: null,
        preferredReadReplica: -1,
        records: EMPTY,
      };
      partitions.push(data);
      if (!w.log || w.errorCode !== ErrorCode.NONE) continue;
      try {
        // The first partition with data may exceed the budget by one batch, so progress is made.
        const limit =
          bytes === 0 ? Math.max(1, Math.min(w.maxBytes, budget)) : Math.min(w.maxBytes, budget);
        if (limit <= 0) continue;
        const result = await w.log.read(w.offset, limit);
        data.highWatermark = result.highWatermark;
        data.lastStableOffset = result.highWatermark;
        data.logStartOffset = result.logStartOffset;
        if (result.batches.length > 0) {
          data.records = joinBuffers(result.batches, result.bytes);
          bytes += result.bytes;
          budget -= result.bytes;
        }
      } catch (err) {
        // Object storage failed: retriable for the client (KAFKA_STORAGE_ERROR exists from v6;
        // older clients get NOT_LEADER_OR_FOLLOWER, which they also retry after a refresh).
        const storageError =
          v >= 6 ? ErrorCode.KAFKA_STORAGE_ERROR : ErrorCode.NOT_LEADER_OR_FOLLOWER;
        data.errorCode = errorCodeOf(err, storageError);
        if (!(err instanceof KafkaError)) {
          broker.logger.warn('fetch read failed', {
            topic: w.topic,
            partition: w.partition,
            err: String(err),
          });
        }
      }
    }
    return { partitions, bytes };
  }

  return {
    apiKey: 1,
    minVersion: 4,
    maxVersion: 17,
    async handle(request, ctx) {
      const v = ctx.apiVersion;
      let wanted = await resolve(request, v);
      const maxBytes = request.maxBytes ?? 0x7fffffff;
      const deadline = Date.now() + Math.max(0, request.maxWaitMs);
      let result = await readAll(wanted, maxBytes, v);
      for (;;) {
        const remaining = deadline - Date.now();
        const hasError = result.partitions.some((p) => p.errorCode !== ErrorCode.NONE);
        if (result.bytes >= request.minBytes || remaining <= 0 || hasError) break;
        const logs = wanted.flatMap((w) => (w.log ? [w.log] : []));
        if (logs.length === 0) break;
        const waits = logs.map((log) => log.nextCommit());
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          ...waits.map((w) => w.promise),
          new Promise((r) => (timer = setTimeout(r, remaining))),
        ]);
        clearTimeout(timer);
        for (const w of waits) w.cancel();
        // Views of partitions led elsewhere never see a commit: refresh them after the wait.
        wanted = await resolve(request, v);
        result = await readAll(wanted, maxBytes, v);
      }
      const responses = new Map<
        string,
        { topic: string; topicId: string; partitions: FetchResponsePartitionData[] }
      >();
      wanted.forEach((w, i) => {
        const key = `${w.topic}\u0000${w.topicId}`;
        let entry = responses.get(key);
        if (!entry) {
          entry = { topic: w.topic, topicId: w.topicId, partitions: [] };
          responses.set(key, entry);
        }
        entry.partitions.push(result.partitions[i]);
      });
      const endpoints =
        v >= 12
          ? addLeaderHints(
              broker,
              wanted.map((w, i) => ({
                topic: w.topic,
                partition: w.partition,
                response: result.partitions[i],
              })),
            )
          : [];
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.NONE,
        sessionId: 0,
        nodeEndpoints: v >= 16 ? endpoints : undefined,
        responses: [...responses.values()].map((r) => ({
          topic: v <= 12 ? r.topic : undefined,
          topicId: v >= 13 ? r.topicId : undefined,
          partitions: r.partitions,
        })),
      };
    },
  };
}
