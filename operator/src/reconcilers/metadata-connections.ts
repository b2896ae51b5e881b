import { ClusterMetadata } from '../../../broker/src/metadata/cluster-metadata.js';
import { EtcdMetadataStore } from '../../../broker/src/metadata/etcd-metadata-store.js';

interface Connection {
  endpoints: string;
  metadata: Promise<ClusterMetadata>;
}

/**
 * One open metadata client per KafScaleCluster, shared by every reconcile of its topics: opening
 * one costs a connection, a full read of the topics and a watch, which a reconcile per topic per
 * resync would repeat for nothing. A connection is replaced when the cluster's endpoints change
 * and closed when the cluster goes away or the operator stops.
 */
export class MetadataConnections {
  private readonly connections = new Map<string, Connection>();

  constructor(private readonly timeoutMs = 5000) {}

  /** The cluster's metadata, opened on first use; `key` is the cluster's namespace/name. */
  get(key: string, clusterName: string, endpoints: string[]): Promise<ClusterMetadata> {
    const joined = endpoints.join(',');
    const existing = this.connections.get(key);
    if (existing?.endpoints === joined) return existing.metadata;
    if (existing) void this.close(key);
    const metadata = open(endpoints, clusterName, this.timeoutMs);
    const connection = { endpoints: joined, metadata };
    this.connections.set(key, connection);
    // A failed open is not kept: the next reconcile tries again.
    metadata.catch(() => {
      if (this.connections.get(key) === connection) this.connections.delete(key);
    });
    return metadata;
  }

  has(key: string): boolean {
    return this.connections.has(key);
  }

  async close(key: string): Promise<void> {
    const connection = this.connections.get(key);
    if (!connection) return;
    this.connections.delete(key);
    const metadata = await connection.metadata.catch(() => undefined);
    if (!metadata) return;
    await metadata.close().catch(() => undefined);
    await metadata.store.close().catch(() => undefined);
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.connections.keys()].map((key) => this.close(key)));
  }
}

async function open(
  endpoints: string[],
  clusterName: string,
  timeoutMs: number,
): Promise<ClusterMetadata> {
  const store = new EtcdMetadataStore({
    endpoints,
    requestTimeoutMs: timeoutMs,
    dialTimeoutMs: timeoutMs,
  });
  try {
    return await ClusterMetadata.open(store, clusterName);
  } catch (error) {
    await store.close();
    throw error;
  }
}
