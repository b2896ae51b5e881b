// Reads for `kafscale topics` and `kafscale groups`: partition states, leaders and coordinators
// straight from the metadata store (no broker involved).

import type { ClusterMetadata } from '../metadata/cluster-metadata.js';
import type { PartitionStateRecord } from '../metadata/model.js';

/** "topic/partition" -> value, for the keys {prefix}{folder}/{topic}/{partition}. */
async function byPartition<T>(
  metadata: ClusterMetadata,
  folder: string,
  parse: (value: string) => T,
  topic?: string,
): Promise<Map<string, T>> {
  const base = `${metadata.prefix}${folder}/`;
  const kvs = await metadata.store.getPrefix(topic === undefined ? base : `${base}${topic}/`);
  const out = new Map<string, T>();
  for (const kv of kvs) out.set(kv.key.slice(base.length), parse(kv.value));
  return out;
}

/** Committed partition states, keyed "topic/partition" (of one topic, or of all). */
export function partitionStates(
  metadata: ClusterMetadata,
  topic?: string,
): Promise<Map<string, PartitionStateRecord>> {
  return byPartition(metadata, 'partitions', (v) => JSON.parse(v) as PartitionStateRecord, topic);
}

/** Node id of the live leader of each partition that has one, keyed "topic/partition". */
export function partitionLeaders(
  metadata: ClusterMetadata,
  topic?: string,
): Promise<Map<string, number>> {
  return byPartition(
    metadata,
    'leaders',
    (v) => (JSON.parse(v) as { nodeId: number }).nodeId,
    topic,
  );
}

/** Node id of the live coordinator of a group, if any. */
export async function groupCoordinator(
  metadata: ClusterMetadata,
  groupId: string,
): Promise<number | null> {
  const kv = await metadata.store.get(metadata.coordinatorKey(groupId));
  return kv ? (JSON.parse(kv.value) as { nodeId: number }).nodeId : null;
}

/** Splits "topic/partition" (topic names never contain a slash). */
export function splitPartitionKey(key: string): { topic: string; partition: number } {
  const slash = key.lastIndexOf('/');
  return { topic: key.slice(0, slash), partition: Number(key.slice(slash + 1)) };
}
