import type { BrokerContext } from '../broker-context.js';
import type { TopicRecord } from '../metadata/model.js';
import { exclusiveObjectKeys } from '../storage/packed-object.js';
import { ErrorCode } from '../protocol/error-codes.js';
import {
  DeleteTopicsRequestCodec,
  type DeleteTopicsRequest,
  type DeleteTopicsResponse,
  type DeleteTopicsResponseDeletableTopicResult,
} from '../protocol/generated/index.js';
import { ADMIN_APIS_DISABLED, ZERO_UUID, apiError, duplicates } from './admin-common.js';
import type { Handler } from './handler.js';

type TopicResult = DeleteTopicsResponseDeletableTopicResult;

/** One entry of the request: by name (v0-6) or by topic id (v6). */
interface Target {
  name: string | null;
  topicId: string;
}

/** S3 DeleteObjects takes at most this many keys a call. */
const DELETE_BATCH = 1000;

/** Manifest reads in flight at once, so a topic with many partitions does not flood the store. */
const MANIFEST_READS = 64;

export interface DeleteTopicsHandler extends Handler<DeleteTopicsRequest, DeleteTopicsResponse> {
  /** Resolves when every object deletion started so far has finished (tests, shutdown). */
  idle(): Promise<void>;
}

export function deleteTopicsHandler(broker: BrokerContext): DeleteTopicsHandler {
  const { config, metadata, objects, logger } = broker;
  const pending = new Set<Promise<void>>();

  function result(target: Target, code: number, message: string | null): TopicResult {
    return { name: target.name, topicId: target.topicId, errorCode: code, errorMessage: message };
  }

  /**
   * Deletes the objects the deleted topic's manifests referenced. Only those: a new topic of the
   * same name may already be writing under the same key prefix, and its keys are unknown here.
   * Objects the deleted topic uploaded but never committed are left to the sweeper.
   */
  async function deleteObjects(topic: TopicRecord, keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      try {
        await objects.delete(keys.slice(i, i + DELETE_BATCH));
      } catch (err) {
        logger.warn('deleting objects of a deleted topic failed; the sweeper will retry', {
          topic: topic.name,
          id: topic.id,
          keys: Math.min(DELETE_BATCH, keys.length - i),
          err: String(err),
        });
      }
    }
    logger.info('objects of deleted topic removed', { topic: topic.name, objects: keys.length });
  }

  function inBackground(work: Promise<void>): void {
    const tracked = work.finally(() => pending.delete(tracked));
    pending.add(tracked);
  }

  async function deleteTopic(target: Target, byId: boolean): Promise<TopicResult> {
    const topic = byId ? metadata.topicById(target.topicId) : metadata.topic(target.name ?? '');
    if (!topic) {
      return byId
        ? result(target, ErrorCode.UNKNOWN_TOPIC_ID, `Topic id ${target.topicId} does not exist.`)
        : result(
            target,
            ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
            `This server does not host this topic: ${target.name}`,
          );
    }
    try {
      // The manifests go with the metadata, so what they reference must be read first.
      const keys: string[] = [];
      for (let from = 0; from < topic.partitions; from += MANIFEST_READS) {
        const partitions = Array.from(
          { length: Math.min(MANIFEST_READS, topic.partitions - from) },
          (_, i) => from + i,
        );
        const manifests = await Promise.all(
          partitions.map((p) => metadata.readSegments(topic.name, p)),
        );
        for (const s of manifests.flat()) keys.push(...exclusiveObjectKeys(s));
      }
      const deleted = await metadata.deleteTopic(topic.name);
      if (!deleted) {
        return byId
          ? result(target, ErrorCode.UNKNOWN_TOPIC_ID, `Topic id ${target.topicId} does not exist.`)
          : result(
              target,
              ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
              `Topic ${topic.name} was deleted.`,
            );
      }
      if (deleted.id !== topic.id) {
        logger.warn(
          'topic was recreated while being deleted; its objects are left to the sweeper',
          {
            topic: topic.name,
            requestedId: topic.id,
            deletedId: deleted.id,
          },
        );
      }
      logger.info('topic deleted', { topic: topic.name, id: topic.id });
      inBackground(deleteObjects(topic, keys));
      return { name: topic.name, topicId: topic.id, errorCode: ErrorCode.NONE, errorMessage: null };
    } catch (err) {
      const { code, message } = apiError(err, logger, `deleting topic ${topic.name}`);
      return result(target, code, message);
    }
  }

  return {
    apiKey: DeleteTopicsRequestCodec.apiKey,
    minVersion: DeleteTopicsRequestCodec.minVersion,
    maxVersion: DeleteTopicsRequestCodec.maxVersion,
    async handle(request) {
      // v0-5 send names, v6 sends states; the decoder leaves the other list empty.
      const targets: Target[] = [
        ...(request.topicNames ?? []).map((name) => ({ name, topicId: ZERO_UUID })),
        ...(request.topics ?? []).map((t) => ({
          name: t.name ?? null,
          topicId: t.topicId ?? ZERO_UUID,
        })),
      ];
      if (!config.allowAdminApis) {
        return {
          throttleTimeMs: 0,
          responses: targets.map((t) =>
            result(t, ErrorCode.TOPIC_AUTHORIZATION_FAILED, ADMIN_APIS_DISABLED),
          ),
        };
      }
      const dupNames = duplicates(targets.filter((t) => t.name !== null).map((t) => t.name));
      const dupIds = duplicates(targets.filter((t) => t.name === null).map((t) => t.topicId));
      const responses = await Promise.all(
        targets.map((t) => {
          if (t.name !== null && t.topicId !== ZERO_UUID) {
            return result(
              t,
              ErrorCode.INVALID_REQUEST,
              'You may not specify both topic name and topic id.',
            );
          }
          if (t.name !== null && dupNames.has(t.name)) {
            return result(t, ErrorCode.INVALID_REQUEST, 'Duplicate topic name.');
          }
          if (t.name === null && dupIds.has(t.topicId)) {
            return result(t, ErrorCode.INVALID_REQUEST, 'Duplicate topic id.');
          }
          return deleteTopic(t, t.name === null);
        }),
      );
      return { throttleTimeMs: 0, responses };
    },
    async idle() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
  };
}
