import type { BrokerContext } from '../broker-context.js';
import type { InitProducerIdRequest, InitProducerIdResponse } from '../protocol/generated/index.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { MetadataUnavailableError } from '../metadata/metadata-store.js';
import type { Handler } from './handler.js';

const MAX_EPOCH = 32767;

/**
 * InitProducerId v0-5 for idempotent producers: ids are allocated from the metadata store. A
 * producer that presents its id and epoch (KIP-360) gets the epoch bumped; an exhausted epoch
 * gets a new id. Transactional ids are refused: transactions are not supported.
 */
export function initProducerIdHandler(
  broker: BrokerContext,
): Handler<InitProducerIdRequest, InitProducerIdResponse> {
  return {
    apiKey: 22,
    minVersion: 0,
    maxVersion: 5,
    async handle(request) {
      const fail = (errorCode: number) => ({
        throttleTimeMs: 0,
        errorCode,
        producerId: -1,
        producerEpoch: -1,
      });
      if (request.transactionalId != null)
        return fail(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
      const presented = request.producerId ?? -1;
      const epoch = request.producerEpoch ?? -1;
      if (presented >= 0 && epoch >= 0 && epoch < MAX_EPOCH) {
        return {
          throttleTimeMs: 0,
          errorCode: ErrorCode.NONE,
          producerId: presented,
          producerEpoch: epoch + 1,
        };
      }
      try {
        const producerId = await broker.metadata.allocateProducerId();
        return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId, producerEpoch: 0 };
      } catch (err) {
        if (err instanceof MetadataUnavailableError)
          return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);
        throw err;
      }
    },
  };
}
