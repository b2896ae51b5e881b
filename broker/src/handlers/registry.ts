import type { BrokerContext } from '../broker-context.js';
import { HandlerRegistry } from '../server/handler-registry.js';
import { apiVersionsHandler } from './api-versions.js';
import { fetchHandler } from './fetch.js';
import { initProducerIdHandler } from './init-producer-id.js';
import { listOffsetsHandler } from './list-offsets.js';
import { metadataHandler } from './metadata.js';
import { produceHandler } from './produce.js';

/** Every API this broker serves. */
export function buildRegistry(broker: BrokerContext): HandlerRegistry {
  const registry = new HandlerRegistry();
  registry
    .register(produceHandler(broker))
    .register(fetchHandler(broker))
    .register(listOffsetsHandler(broker))
    .register(metadataHandler(broker))
    .register(initProducerIdHandler(broker))
    .register(apiVersionsHandler(registry));
  return registry;
}
