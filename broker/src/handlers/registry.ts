import type { BrokerContext } from '../broker-context.js';
import { HandlerRegistry } from '../server/handler-registry.js';
import { apiVersionsHandler } from './api-versions.js';
import { fetchHandler } from './fetch.js';
import { initProducerIdHandler } from './init-producer-id.js';
import { listOffsetsHandler } from './list-offsets.js';
import { metadataHandler } from './metadata.js';
import { produceHandler } from './produce.js';
import { findCoordinatorHandler } from './find-coordinator.js';
import { joinGroupHandler } from './join-group.js';
import { syncGroupHandler } from './sync-group.js';
import { heartbeatHandler } from './heartbeat.js';
import { leaveGroupHandler } from './leave-group.js';
import { offsetCommitHandler } from './offset-commit.js';
import { offsetFetchHandler } from './offset-fetch.js';
import { describeGroupsHandler } from './describe-groups.js';
import { listGroupsHandler } from './list-groups.js';
import { deleteGroupsHandler } from './delete-groups.js';
import { offsetDeleteHandler } from './offset-delete.js';
import { adminHandlers } from './admin-handlers.js';
import { saslHandshakeHandler } from './sasl-handshake.js';
import { saslAuthenticateHandler } from './sasl-authenticate.js';

/** Every API this broker serves. */
export function buildRegistry(broker: BrokerContext): HandlerRegistry {
  const registry = new HandlerRegistry();
  registry
    .register(produceHandler(broker))
    .register(fetchHandler(broker))
    .register(listOffsetsHandler(broker))
    .register(metadataHandler(broker))
    .register(initProducerIdHandler(broker))
    .register(findCoordinatorHandler(broker))
    .register(joinGroupHandler(broker))
    .register(syncGroupHandler(broker))
    .register(heartbeatHandler(broker))
    .register(leaveGroupHandler(broker))
    .register(offsetCommitHandler(broker))
    .register(offsetFetchHandler(broker))
    .register(describeGroupsHandler(broker))
    .register(listGroupsHandler(broker))
    .register(deleteGroupsHandler(broker))
    .register(offsetDeleteHandler(broker))
    .register(saslHandshakeHandler())
    .register(saslAuthenticateHandler())
    .register(apiVersionsHandler(registry));
  for (const handler of adminHandlers(broker)) registry.register(handler);
  return registry;
}
