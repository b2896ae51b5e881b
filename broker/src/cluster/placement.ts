import { createHash } from 'node:crypto';

/**
 * Rendezvous (highest random weight) hashing: each key goes to the broker with the highest
 * hash of (key, broker). Every broker computes the same answer from the same live set, and when
 * a broker joins or leaves only the keys it wins or held move.
 */
export function ownerOf(key: string, brokerIds: readonly number[]): number | undefined {
  let best: number | undefined;
  let bestWeight = -1n;
  for (const id of brokerIds) {
    const weight = createHash('sha256').update(`${key}\u0000${id}`).digest().readBigUInt64BE(0);
    if (weight > bestWeight || (weight === bestWeight && best !== undefined && id < best)) {
      best = id;
      bestWeight = weight;
    }
  }
  return best;
}

export function partitionKey(topic: string, partition: number): string {
  return `partition:${topic}/${partition}`;
}

export function groupKey(groupId: string): string {
  return `group:${groupId}`;
}
