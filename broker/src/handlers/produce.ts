import type { BrokerContext } from '../broker-context.js';
import type {
  ProduceRequest,
  ProduceResponse,
  ProduceResponsePartitionProduceResponse,
} from '../protocol/generated/index.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { validateProducedRecords } from '../protocol/records/produce-rules.js';
import { RecordBatchError } from '../protocol/records/record-batch-error.js';
import { topicConfigNumber } from '../metadata/topic-config.js';
import { KafkaError, errorCodeOf } from '../log/kafka-error.js';
import type { PartitionLog } from '../log/partition-log.js';
import type { Handler, RequestContext } from './handler.js';
import { addLeaderHints } from './leader-hints.js';
import { produceErrorForVersion } from '../observability/produce-gate.js';

type PartitionResponse = ProduceResponsePartitionProduceResponse;

interface Pending {
  topic: string;
  response: PartitionResponse;
  durable?: Promise<void>;
}

/**
 * Produce v3-11 (v0-2 carry the pre-v2 message formats, which are not stored). Offsets are
 * assigned per connection in request order; the answer waits until the batches are durable in
 * object storage and committed (acks=1 and acks=-1), or is skipped (acks=0).
 */
export function produceHandler(broker: BrokerContext): Handler<ProduceRequest, ProduceResponse> {
  // The tail of each connection's append phase: appends of pipelined requests stay in order.
  const appendTails = new WeakMap<object, Promise<unknown>>();

  /**
   * The request's partition answers, and its partitions' logs. Logs not open yet open at the same
   * time, and before the connection's earlier requests are appended: one after another, their
   * metadata round trips added up to seconds while a broker took over hundreds of partitions.
   */
  function openAll(request: ProduceRequest): {
    pending: Pending[];
    logs: Promise<PromiseSettledResult<PartitionLog | undefined>[]>;
  } {
    const pending: Pending[] = [];
    const opening: (Promise<PartitionLog> | undefined)[] = [];
    for (const topicData of request.topicData) {
      const topic = broker.metadata.topic(topicData.name);
      for (const p of topicData.partitionData) {
        const response: PartitionResponse = {
          index: p.index,
          errorCode: ErrorCode.NONE,
          baseOffset: -1,
          logAppendTimeMs: -1,
          logStartOffset: -1,
          recordErrors: [],
          errorMessage: null,
        };
        pending.push({ topic: topicData.name, response });
        if (request.transactionalId != null) {
          response.errorCode = ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
          response.errorMessage = 'transactions are not supported by this broker';
        } else if (!topic || p.index < 0 || p.index >= topic.partitions) {
          response.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        }
        opening.push(
          response.errorCode === ErrorCode.NONE
            ? broker.logs.get(topicData.name, p.index)
            : undefined,
        );
      }
    }
    return { pending, logs: Promise.allSettled(opening) };
  }

  /** Appends the request's batches in one go, so they are appended together and in order. */
  function appendAll(
    request: ProduceRequest,
    ctx: RequestContext,
    pending: Pending[],
    logs: PromiseSettledResult<PartitionLog | undefined>[],
  ): void {
    let i = 0;
    for (const topicData of request.topicData) {
      const topic = broker.metadata.topic(topicData.name);
      for (const p of topicData.partitionData) {
        const entry = pending[i];
        const log = logs[i++];
        if (entry.response.errorCode !== ErrorCode.NONE) continue;
        try {
          if (!topic) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'topic deleted');
          if (log.status === 'rejected') throw log.reason;
          const batch = validateProducedRecords(p.records ?? Buffer.alloc(0), ctx.apiVersion, {
            maxBatchBytes: topicConfigNumber(topic, 'max.message.bytes'),
          });
          broker.produceGate?.admit();
          const appended = log.value!.append(batch);
          entry.response.baseOffset = appended.baseOffset;
          entry.response.logStartOffset = log.value!.logStartOffset;
          entry.durable = appended.durable;
        } catch (err) {
          fail(entry.response, err);
        }
      }
    }
  }

  function fail(response: PartitionResponse, err: unknown): void {
    if (err instanceof RecordBatchError) {
      response.errorCode = err.errorCode;
      response.errorMessage = err.message;
      response.recordErrors = [{ batchIndex: 0, batchIndexErrorMessage: err.message }];
    } else {
      response.errorCode = errorCodeOf(err, ErrorCode.UNKNOWN_SERVER_ERROR);
      response.errorMessage = err instanceof Error ? err.message : String(err);
      if (!(err instanceof KafkaError)) broker.logger.error('produce failed', { err: String(err) });
    }
  }

  return {
    apiKey: 0,
    minVersion: 3,
    maxVersion: 11,
    async handle(request, ctx) {
      if (![0, 1, -1].includes(request.acks)) {
        return respond(
          request.topicData.map((t) => ({
            topic: t.name,
            response: { index: 0, errorCode: ErrorCode.INVALID_REQUIRED_ACKS, baseOffset: -1 },
          })),
        );
      }
      const { pending, logs } = openAll(request);
      const previous = appendTails.get(ctx.connection) ?? Promise.resolve();
      const appended = Promise.all([logs, previous]).then(([opened]) =>
        appendAll(request, ctx, pending, opened),
      );
      appendTails.set(
        ctx.connection,
        appended.catch(() => undefined),
      );
      await appended;

      if (request.acks === 0) {
        for (const p of pending) p.durable?.catch(() => undefined);
        return null;
      }
      const waitForDurable = request.acks === -1 || broker.config.produceSyncFlush;
      await Promise.all(
        pending.map(async (p) => {
          if (!p.durable) return;
          if (!waitForDurable) {
            p.durable.catch((err: unknown) =>
              broker.logger.warn('unsynced produce failed', { err: String(err) }),
            );
            return;
          }
          try {
            await p.durable;
          } catch (err) {
            p.response.errorCode = errorCodeOf(err, ErrorCode.UNKNOWN_SERVER_ERROR);
            p.response.errorMessage = err instanceof Error ? err.message : String(err);
            p.response.baseOffset = -1;
          }
        }),
      );
      for (const p of pending) {
        p.response.errorCode = produceErrorForVersion(p.response.errorCode, ctx.apiVersion);
      }
      const response = respond(pending);
      if (ctx.apiVersion >= 10) {
        const hints = pending.map((p) => ({
          topic: p.topic,
          partition: p.response.index,
          response: p.response,
        }));
        response.nodeEndpoints = addLeaderHints(broker, hints);
      }
      return response;
    },
  };
}

function respond(pending: { topic: string; response: PartitionResponse }[]): ProduceResponse {
  const byTopic = new Map<string, PartitionResponse[]>();
  for (const p of pending) {
    const list = byTopic.get(p.topic) ?? [];
    list.push(p.response);
    byTopic.set(p.topic, list);
  }
  return {
    responses: [...byTopic].map(([name, partitionResponses]) => ({ name, partitionResponses })),
    throttleTimeMs: 0,
  };
}
