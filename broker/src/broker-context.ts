import type { BrokerConfig } from './config.js';
import type { ClusterMetadata } from './metadata/cluster-metadata.js';
import type { BrokerRecord } from './metadata/model.js';
import type { LogManager } from './log/log-manager.js';
import type { ObjectStore } from './storage/object-store.js';
import type { Logger } from './logger.js';
import type { GroupCoordinator } from './groups/group-coordinator.js';
import type { Membership } from './cluster/membership.js';
import type { ProduceGate } from './observability/produce-gate.js';

/** What request handlers work with: the broker's parts, behind their interfaces. */
export interface BrokerContext {
  config: BrokerConfig;
  /** This broker as advertised to clients. */
  self: BrokerRecord;
  clusterId: string;
  metadata: ClusterMetadata;
  /** This broker's registration and the live brokers. */
  membership: Membership;
  logs: LogManager;
  groups: GroupCoordinator;
  objects: ObjectStore;
  logger: Logger;
  /** Refuses produce while object storage is unavailable; absent, produce is never gated. */
  produceGate?: ProduceGate;
}
