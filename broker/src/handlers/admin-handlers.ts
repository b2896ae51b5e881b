import type { BrokerContext } from '../broker-context.js';
import { alterConfigsHandler } from './alter-configs.js';
import { createPartitionsHandler } from './create-partitions.js';
import { createTopicsHandler } from './create-topics.js';
import { deleteRecordsHandler } from './delete-records.js';
import { deleteTopicsHandler } from './delete-topics.js';
import { describeClusterHandler } from './describe-cluster.js';
import { describeConfigsHandler } from './describe-configs.js';
import type { AnyHandler } from './handler.js';
import { incrementalAlterConfigsHandler } from './incremental-alter-configs.js';
import { offsetForLeaderEpochHandler } from './offset-for-leader-epoch.js';

/** The admin and cluster-description APIs, ready to register. */
export function adminHandlers(broker: BrokerContext): AnyHandler[] {
  return [
    createTopicsHandler(broker),
    deleteTopicsHandler(broker),
    createPartitionsHandler(broker),
    describeConfigsHandler(broker),
    alterConfigsHandler(broker),
    incrementalAlterConfigsHandler(broker),
    deleteRecordsHandler(broker),
    describeClusterHandler(broker),
    offsetForLeaderEpochHandler(broker),
  ];
}
