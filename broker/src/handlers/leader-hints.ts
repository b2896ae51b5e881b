import type { BrokerContext } from '../broker-context.js';
import { ErrorCode } from '../protocol/error-codes.js';

interface PartitionWithLeader {
  errorCode: number;
  currentLeader?: { leaderId?: number; leaderEpoch?: number };
}

/**
 * KIP-951: with NOT_LEADER_OR_FOLLOWER, tell the client who leads now (and where to reach it),
 * so it can move without a metadata round trip. Returns the node endpoints to include.
 */
export function addLeaderHints(
  broker: BrokerContext,
  partitions: { topic: string; partition: number; response: PartitionWithLeader }[],
): { nodeId: number; host: string; port: number; rack: string | null }[] {
  const endpoints = new Map<
    number,
    { nodeId: number; host: string; port: number; rack: string | null }
  >();
  for (const { topic, partition, response } of partitions) {
    if (response.errorCode !== ErrorCode.NOT_LEADER_OR_FOLLOWER) continue;
    const leaderId = broker.logs.leaderOf(topic, partition);
    const leader = leaderId === undefined ? undefined : broker.membership.broker(leaderId);
    if (!leader) continue;
    response.currentLeader = { leaderId: leader.nodeId, leaderEpoch: -1 };
    endpoints.set(leader.nodeId, {
      nodeId: leader.nodeId,
      host: leader.host,
      port: leader.port,
      rack: leader.rack,
    });
  }
  return [...endpoints.values()];
}
