import { ErrorCode } from '../protocol/error-codes.js';

/**
 * Kafka's check of the leader epoch a client believes in (KIP-320): -1 skips it, an older epoch
 * is fenced, a newer one is not known here yet.
 */
export function leaderEpochError(clientEpoch: number | undefined, currentEpoch: number): number {
  if (clientEpoch === undefined || clientEpoch < 0) return ErrorCode.NONE;
  if (clientEpoch < currentEpoch) return ErrorCode.FENCED_LEADER_EPOCH;
  if (clientEpoch > currentEpoch) return ErrorCode.UNKNOWN_LEADER_EPOCH;
  return ErrorCode.NONE;
}
